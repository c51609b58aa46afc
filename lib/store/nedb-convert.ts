/**
 * One-time conversion of an nedb `ipam-data` directory (the embedded store before SQLite) into `ipam.sqlite`.
 * nedb files are newline-delimited JSON, appended to: the last line of an `_id` wins, `{"$$deleted": true}`
 * removes it, `$$indexCreated` lines define indexes, dates are `{"$$date": ms}`. The new file is written
 * under a temporary name and renamed when complete, so a crash mid-way converts again on the next open;
 * the old files then move to `nedb-backup-<time>/` beside it.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { CollectionName } from './port';
import { COLLECTIONS } from './schema';
import { tableDdl } from './sqlite-query';

const OLD_LOCK_FILE = 'flowipam.lock';
/** Locks held under nedb named processes of the single-process era: none is still held. */
const SKIPPED: CollectionName[] = ['locks'];
const LINES_PER_TRANSACTION = 5000;

export async function convertNedbDirectory(directory: string, target: string, log: (message: string) => void): Promise<void> {
  const files = COLLECTIONS.map((name) => ({ name, file: path.join(directory, `${name}.db`) })).filter((f) => fs.existsSync(f.file));
  if (files.length === 0) return;
  if (!fs.existsSync(target)) {
    const counts = await convert(files, target);
    const summary = Object.entries(counts.documents).map(([name, n]) => `${n} ${name}`).join(', ');
    const skipped = counts.unreadable > 0 ? `; ${counts.unreadable} unreadable line(s) skipped (a torn write)` : '';
    log(`[flowipam] converted the nedb store in ${directory} to ${path.basename(target)}: ${summary}${skipped}`);
  }
  const backup = path.join(directory, `nedb-backup-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  fs.mkdirSync(backup);
  for (const { file } of files) fs.renameSync(file, path.join(backup, path.basename(file)));
  fs.rmSync(path.join(directory, OLD_LOCK_FILE), { force: true });
  log(`[flowipam] the old nedb files are kept in ${backup}`);
}

async function convert(
  files: { name: CollectionName; file: string }[],
  target: string,
): Promise<{ documents: Record<string, number>; unreadable: number }> {
  const temporary = `${target}.converting`;
  fs.rmSync(temporary, { force: true });
  fs.rmSync(`${temporary}-journal`, { force: true });
  const db = new Database(temporary);
  const documents: Record<string, number> = {};
  let unreadable = 0;
  try {
    db.pragma('synchronous = FULL');
    for (const name of COLLECTIONS) db.exec(tableDdl(name));
    for (const { name, file } of files) {
      if (SKIPPED.includes(name)) continue;
      unreadable += await replay(db, name, file);
      documents[name] = (db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n;
    }
  } finally {
    db.close();
  }
  fs.renameSync(temporary, target);
  return { documents, unreadable };
}

/** Replays one nedb file in order into its table; returns how many lines could not be read. */
async function replay(db: Database.Database, name: CollectionName, file: string): Promise<number> {
  const upsert = db.prepare(`INSERT INTO "${name}" (id, doc) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc`);
  const remove = db.prepare(`DELETE FROM "${name}" WHERE id = ?`);
  const apply = db.transaction((lines: string[]) => {
    let bad = 0;
    for (const line of lines) {
      const doc = parseLine(line);
      if (doc === undefined) bad++;
      else if (doc === null) continue;
      else if (doc.$$deleted === true) remove.run(String(doc._id));
      else {
        const { _id, ...rest } = doc;
        upsert.run(String(_id), JSON.stringify(rest));
      }
    }
    return bad;
  });
  let unreadable = 0;
  let batch: string[] = [];
  const lines = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) {
    batch.push(line);
    if (batch.length >= LINES_PER_TRANSACTION) {
      unreadable += apply(batch);
      batch = [];
    }
  }
  return unreadable + apply(batch);
}

/** A document line (dates as ISO strings), null for an index definition or blank line, undefined when unreadable. */
function parseLine(line: string): Record<string, unknown> | null | undefined {
  if (line.trim() === '') return null;
  try {
    const doc = JSON.parse(line, (_key, value: unknown) =>
      value && typeof value === 'object' && Object.hasOwn(value, '$$date') ? new Date((value as { $$date: number }).$$date).toISOString() : value,
    ) as Record<string, unknown>;
    if (doc === null || typeof doc !== 'object') return undefined;
    if (Object.hasOwn(doc, '$$indexCreated') || Object.hasOwn(doc, '$$indexRemoved')) return null;
    return typeof doc._id === 'string' ? doc : undefined;
  } catch {
    return undefined;
  }
}
