export { KeaClient } from './client';
export type { KeaReservation, KeaScope } from './config';
export { keaClientOf, keaInstance } from './factory';
