/**
 * WAL checkpoints off the event loop. With `wal_autocheckpoint` the connection that commits also copies the WAL
 * into the database file and fsyncs it, inside its commit: a bulk write's batches then each carry a checkpoint
 * (a third to a half of a release's time, and its longest stalls). Instead the main connection runs with
 * `wal_autocheckpoint = 0` and tells this checkpointer after each commit; a worker thread with its own
 * connection runs `PRAGMA wal_checkpoint(PASSIVE)`, which blocks neither writers nor readers, again and again
 * while commits keep coming.
 *
 * The WAL starts again from its beginning only at a write that finds it fully checkpointed, which a steady
 * stream of commits never does; so once the WAL holds more than MAX_FRAMES, the next bulk write first waits
 * (asynchronously, at most MAX_WAIT_MS: a long read holding an old snapshot can keep a checkpoint from
 * finishing) for a checkpoint that left nothing behind.
 */
import { Worker } from 'node:worker_threads';

/** WAL frames (pages) beyond which bulk writes wait for a finished checkpoint: 64 MiB of 4 KiB pages. */
const MAX_FRAMES = 16_384;
const MAX_WAIT_MS = 2000;
/** Checkpoints start at most this often, so a stream of small commits is copied in groups, not one fsync each. */
const MIN_INTERVAL_MS = 50;

interface Reply {
  /** Frames in the WAL, and how many of them are in the database file now. */
  log: number;
  checkpointed: number;
  error?: string;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = ' + workerData.synchronous);
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const [row] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ log: row.log, checkpointed: row.checkpointed });
  } catch (err) {
    parentPort.postMessage({ log: -1, checkpointed: -1, error: String(err && err.message || err) });
  }
});
`;

export class Checkpointer {
  private readonly worker: Worker;
  private running = false;
  /** A commit since the running checkpoint began: it may not have covered everything. */
  private dirty = false;
  private frames = 0;
  private waiters: (() => void)[] = [];
  private failed = false;
  private lastStart = 0;
  private scheduled?: NodeJS.Timeout;

  /** `onFailure` runs once if the worker cannot work (the caller turns autocheckpointing back on). */
  constructor(file: string, synchronous: string, private readonly onFailure: (err: Error) => void) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, synchronous, module: require.resolve('better-sqlite3') } });
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => this.replied(reply));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`checkpoint worker exited (${code})`)));
  }

  /** After each commit of the main connection. */
  committed(): void {
    if (this.failed) return;
    if (this.running) this.dirty = true;
    else this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    const wait = this.lastStart + MIN_INTERVAL_MS - Date.now();
    if (wait <= 0) return this.start();
    this.scheduled = setTimeout(() => {
      this.scheduled = undefined;
      if (!this.running && !this.failed) this.start();
    }, wait);
    this.scheduled.unref();
  }

  /** Resolves at once unless the WAL has grown past MAX_FRAMES; then after a finished checkpoint (or MAX_WAIT_MS). */
  ready(): Promise<void> | undefined {
    if (this.failed || this.frames <= MAX_FRAMES) return undefined;
    if (!this.running) this.start();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, MAX_WAIT_MS);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    clearTimeout(this.scheduled);
    this.release();
    if (this.failed) return;
    this.failed = true;
    // Held (ref) until it has closed its connection: the main connection closes last, so it checkpoints the rest.
    this.worker.ref();
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('close');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 5000)))]);
    clearTimeout(timer);
    await this.worker.terminate();
  }

  private start(): void {
    clearTimeout(this.scheduled);
    this.scheduled = undefined;
    this.lastStart = Date.now();
    this.running = true;
    this.dirty = false;
    this.worker.postMessage('checkpoint');
  }

  private replied(reply: Reply): void {
    this.running = false;
    if (reply.error) {
      // A busy or locked database (another process checkpointing, say): the next commit tries again.
      this.release();
      if (this.dirty) this.schedule();
      return;
    }
    this.frames = reply.log;
    const finished = reply.checkpointed === reply.log && !this.dirty;
    if (finished) this.frames = 0;
    if (finished || this.frames <= MAX_FRAMES) this.release();
    // Not finished with writes waiting (a reader's snapshot held it back): try again shortly.
    if (this.dirty || (!finished && this.waiters.length > 0)) this.schedule();
  }

  private release(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.release();
    this.onFailure(err);
  }
}
