/** ipam-import: CSV import, import-and-update (ranges) and export of addresses, ranges and blocks. */
import type { Node, NodeAPI } from 'node-red';
import type { CsvOutcome, CsvRequest } from '../lib/csv';
import { setUpOperationNode, type Message, type OperationNodeDef } from './common';

interface ImportNodeDef extends OperationNodeDef {
  entity: string;
  allOrNothing: boolean;
  managedByService: string;
  serviceInstance: string;
  /** Folder for timestamped error reports; empty = none. */
  reportFolder: string;
}

const PROGRESS_EVERY_MS = 500;
const VERBS: Record<string, string> = { checking: 'checked', writing: 'imported', applying: 'applied', exporting: 'exported' };

export = function register(RED: NodeAPI): void {
  function IpamImport(this: Node, config: ImportNodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    setUpOperationNode(RED, node, config, async (ipam, operation, msg) => {
      const outcome = (await ipam.perform('import', operation, requestOf(config, operation, msg, node))) as CsvOutcome;
      if (outcome.errorReport !== undefined) msg.errorReport = outcome.errorReport;
      else delete msg.errorReport;
      return outcome.payload;
    });
  }
  RED.nodes.registerType('ipam-import', IpamImport);
};

/** The node settings, overridden by message properties where given. */
function requestOf(config: ImportNodeDef, operation: string, msg: Message, node: Node): CsvRequest {
  const pick = <T>(field: string, fallback: T): T => (msg[field] !== undefined && msg[field] !== '' ? (msg[field] as T) : fallback);
  // The dialog hides the data choice for import-and-update (ranges only); only msg.entity is checked then.
  const configuredEntity = operation === 'import-and-update' ? undefined : config.entity || undefined;
  let shown = 0;
  return {
    entity: pick('entity', configuredEntity),
    csv: msg.payload,
    filename: pick<string | undefined>('filename', undefined),
    dryRun: msg.dryRun === true,
    allOrNothing: pick('allOrNothing', Boolean(config.allOrNothing)),
    managedByService: pick('managedByService', config.managedByService || undefined),
    serviceInstance: pick('serviceInstance', config.serviceInstance || undefined),
    filter: msg.filter,
    reportFolder: config.reportFolder || undefined,
    onProgress: (rows, phase) => {
      if (Date.now() - shown < PROGRESS_EVERY_MS) return;
      shown = Date.now();
      node.status({ fill: 'blue', shape: 'dot', text: `${VERBS[phase] ?? phase} ${rows} rows` });
    },
  };
}
