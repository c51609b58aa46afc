/**
 * DNS over UDP, and again over TCP when the reply is truncated; a server that does not answer is marked
 * unreachable (../reachability.ts).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { IpamError } from '../../errors';
import { unreachable } from '../reachability';
import { failure, parseMessage, u16 } from './codec';

export interface DnsServer {
  host: string;
  /** Default 53. */
  port?: number;
  /** Default 5000 ms. */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 5000;

export function describe(server: DnsServer): string {
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  return `${host}:${server.port ?? 53}`;
}

/** Sends over UDP and, when the reply is truncated, again over TCP. */
export async function exchange(message: Buffer, server: DnsServer): Promise<Buffer> {
  const reply = await exchangeUdp(message, server);
  if (parseMessage(reply).truncated) return exchangeTcp(message, server);
  return reply;
}

export function exchangeUdp(message: Buffer, server: DnsServer): Promise<Buffer> {
  const timeoutMs = server.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const id = message.readUInt16BE(0);
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    const finish = (err: Error | null, reply?: Buffer): void => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(reply as Buffer);
    };
    const timer = setTimeout(
      () => finish(unreachable(failure(`DNS server ${describe(server)} did not answer within ${timeoutMs} ms`))),
      timeoutMs,
    );
    socket.on('error', (err: NodeJS.ErrnoException) => {
      finish(unreachable(failure(`DNS server ${describe(server)}: ${socketReason(err)}`)));
    });
    socket.on('message', (reply) => {
      if (reply.length >= 2 && reply.readUInt16BE(0) === id) finish(null, reply);
    });
    // Connecting lets an ICMP port-unreachable surface as ECONNREFUSED instead of a timeout.
    socket.connect(server.port ?? 53, server.host, () => socket.send(message));
  });
}

export function exchangeTcp(message: Buffer, server: DnsServer): Promise<Buffer> {
  const timeoutMs = server.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port ?? 53 });
    let received = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () => {
      socket.destroy(unreachable(failure(`DNS server ${describe(server)} did not answer over TCP within ${timeoutMs} ms`)));
    });
    socket.on('connect', () => socket.write(Buffer.concat([u16(message.length), message])));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        socket.end();
        resolve(received.subarray(2, 2 + received.readUInt16BE(0)));
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) =>
      reject(err instanceof IpamError ? err : unreachable(failure(`DNS server ${describe(server)}: ${socketReason(err)}`))),
    );
    socket.on('close', () => {
      reject(failure(`DNS server ${describe(server)} closed the TCP connection without a reply`));
    });
  });
}

export function socketReason(err: NodeJS.ErrnoException): string {
  if (err.code === 'ECONNREFUSED') return 'refused the connection (ECONNREFUSED): is the server running on that port?';
  return `${err.code ? `${err.code} ` : ''}${err.message}`;
}
