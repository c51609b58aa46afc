/** A real Node-RED started the way `npm start` starts it, in a temporary user directory on a free port. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from './servers';
import { tempDir } from './stores';

export interface RunningNodeRed {
  base: string;
  stop(): void;
}

const root = path.resolve(__dirname, '..', '..');

export async function startNodeRed(): Promise<RunningNodeRed> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [path.join(root, 'scripts', 'start.js')], {
    env: { ...process.env, PORT: String(port), FLOWIPAM_USER_DIR: tempDir('flowipam-red-') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`Node-RED did not start:\n${output}`)), 45000);
    child.stdout!.on('data', (chunk) => {
      output += String(chunk);
      if (output.includes('Started flows') && output.includes('FlowIPAM editor:')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk) => (output += String(chunk)));
    child.on('exit', (code) => reject(new Error(`Node-RED exited with ${code}:\n${output}`)));
  });
  return { base: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}
