/** A real Node-RED started the way `npm start` starts it, in a temporary user directory on a free port. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from './servers';
import { tempDir } from './stores';

export interface RunningNodeRed {
  base: string;
  userDir: string;
  /** Stops Node-RED; resolves once the process has exited. */
  stop(): Promise<void>;
}

const root = path.resolve(__dirname, '..', '..');

/**
 * `settings`: source of a settings module merged over npm start's (FLOWIPAM_SETTINGS), e.g. with adminAuth;
 * `flows`: the flows Node-RED starts with (flows.json of the user directory).
 */
export async function startNodeRed(options: { settings?: string; flows?: unknown[] } = {}): Promise<RunningNodeRed> {
  const port = await freePort();
  const userDir = tempDir('flowipam-red-');
  if (options.flows) fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(options.flows, null, 2));
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), FLOWIPAM_USER_DIR: userDir };
  if (options.settings) {
    env.FLOWIPAM_SETTINGS = path.join(userDir, 'extra-settings.js');
    fs.writeFileSync(env.FLOWIPAM_SETTINGS, options.settings);
  }
  const child: ChildProcess = spawn(process.execPath, [path.join(root, 'scripts', 'start.js')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`Node-RED did not start:\n${output}`)), 60_000);
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
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return { base: `http://127.0.0.1:${port}`, userDir, stop };
}
