/**
 * An httpNodeMiddleware (Node-RED settings.js) for HTTP-in flows such as the getting-started API: a JSON body
 * that does not parse is answered with a JSON error, `400 {code: "VALIDATION", message}`, instead of Express's
 * HTML page with a stack trace and paths. A body that parses is handed on already parsed (`req._body` tells
 * Node-RED's own parser to skip it). `npm start` installs it; see the README to use it in your own settings.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const MAX_BYTES = 5 * 1024 * 1024; // Node-RED's default apiMaxLength

type Request = IncomingMessage & { body?: unknown; _body?: boolean };
type Next = (err?: unknown) => void;

function isJson(req: Request): boolean {
  const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

function answer(res: ServerResponse, status: number, message: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify({ code: 'VALIDATION', message }));
}

export function jsonBodyErrors(req: Request, res: ServerResponse, next: Next): void {
  if (req._body || !isJson(req) || req.method === 'GET' || req.method === 'HEAD') return next();
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BYTES && !refused) {
      refused = true;
      answer(res, 413, `request body is larger than ${MAX_BYTES} bytes`);
    }
    if (!refused) chunks.push(chunk);
  });
  req.on('error', (err) => next(err));
  req.on('end', () => {
    if (refused) return;
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.trim() === '') {
      req.body = {};
      req._body = true;
      return next();
    }
    try {
      req.body = JSON.parse(text);
    } catch (err) {
      return answer(res, 400, `request body is not valid JSON: ${(err as Error).message}`);
    }
    req._body = true;
    next();
  });
}
