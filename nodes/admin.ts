/**
 * The sidebar's admin endpoints under /flowipam/, on Node-RED's admin app, each guarded by the
 * `flowipam.read` permission. They read the store of a deployed ipam-config chosen by the caller; the tree
 * itself (paging, search, numbers) is lib/tree.
 */
import type { NodeAPI } from 'node-red';
import type { Ipam } from '../lib/ipam';
import { listTree, rangeDetails, treeQueryFrom } from '../lib/space';
import type { IpamConfigNode } from './common';

export const READ_PERMISSION = 'flowipam.read';

interface Request {
  query: Record<string, unknown>;
  user?: unknown;
}
interface Response {
  status(code: number): Response;
  json(body: unknown): void;
  end(): void;
}
type Next = (err?: unknown) => void;

const served = new WeakSet<object>();

/** Registers the endpoints once per admin app (test helpers load the node module again for each flow). */
export function registerAdminEndpoints(RED: NodeAPI): void {
  const app = RED.httpAdmin as unknown as { get(path: string, ...handlers: unknown[]): void };
  if (served.has(app)) return;
  served.add(app);
  const guard = forbiddenWhenAuthenticated(RED.auth.needsPermission(READ_PERMISSION) as never);
  app.get('/flowipam/stores', guard, (_req: Request, res: Response) => res.json(deployedStores(RED)));
  app.get('/flowipam/tree', guard, withIpam(RED, (ipam, query) => listTree(ipam, treeQueryFrom(query))));
  app.get('/flowipam/range', guard, withIpam(RED, (ipam, query) => rangeDetails(ipam, query.id)));
}

/**
 * Node-RED answers 401 both without a token and for a user whose scope lacks the permission; HTTP says the
 * second is 403 (authenticated, not allowed), which lets the sidebar tell "log in" from "ask for access".
 */
function forbiddenWhenAuthenticated(check: (req: Request, res: Response, next: Next) => void) {
  return (req: Request, res: Response, next: Next): void => {
    const status = res.status.bind(res);
    res.status = (code: number) => status(code === 401 && req.user ? 403 : code);
    check(req, res, (err?: unknown) => {
      res.status = status;
      next(err);
    });
  };
}

function deployedStores(RED: NodeAPI) {
  const stores: { id: string; name: string; state: string; kind?: string }[] = [];
  RED.nodes.eachNode((def: { id: string; type: string; name?: string }) => {
    if (def.type !== 'ipam-config') return;
    const node = RED.nodes.getNode(def.id) as IpamConfigNode | null;
    if (!node) return;
    const state = node.storeState;
    stores.push({ id: def.id, name: def.name || def.id, state: state.state, kind: state.state === 'connected' ? state.kind : undefined });
  });
  return stores;
}

function withIpam(RED: NodeAPI, run: (ipam: Ipam, query: Record<string, unknown>) => Promise<unknown>) {
  return (req: Request, res: Response): void => {
    const config = req.query.config;
    const node = typeof config === 'string' ? (RED.nodes.getNode(config) as (IpamConfigNode & { type: string }) | null) : null;
    if (!node || node.type !== 'ipam-config') {
      res.status(404).json({ code: 'NOT_FOUND', message: `no deployed ipam-config ${JSON.stringify(config ?? '')}` });
      return;
    }
    node
      .ipam()
      .then((ipam) => run(ipam, req.query))
      .then((body) => res.json(body))
      .catch((err: Error & { code?: string }) => {
        const status = err.code === 'NOT_FOUND' ? 404 : err.code === 'STORE_UNAVAILABLE' || !err.code ? 503 : 400;
        res.status(status).json({ code: err.code ?? 'STORE_UNAVAILABLE', message: err.message });
      });
  };
}
