import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, RegistryError } from './errors.js';

/** What Confluent answers with, and what its clients send (WIRE-FACTS.md §4.5). */
const REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/**
 * Read a request body as JSON, whatever its content type says: clients send
 * `application/vnd.schemaregistry.v1+json`, people with curl send `application/json` or nothing.
 * An empty body reads as `undefined`, so the endpoint's own validation reports what is missing.
 *
 * @throws RegistryError 413 past `limitBytes`, 400 on malformed JSON.
 */
export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) {
      throw new RegistryError(413, 413, `Request body larger than ${limitBytes} bytes`);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badRequest(`Malformed JSON body: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Send `body` serialised as JSON. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendJsonText(res, status, JSON.stringify(body));
}

/** Send text that already is JSON (a stored schema, served as registered). */
export function sendJsonText(res: ServerResponse, status: number, json: string): void {
  res.writeHead(status, {
    'content-type': REGISTRY_CONTENT_TYPE,
    'content-length': Buffer.byteLength(json),
  });
  res.end(json);
}

/** Confluent's error body: `{"error_code": ..., "message": ...}`. */
export function sendError(res: ServerResponse, err: RegistryError): void {
  // After an oversized body the rest of the upload is still on the wire: do not keep that socket.
  if (err.status === 413) res.setHeader('connection', 'close');
  sendJson(res, err.status, { error_code: err.errorCode, message: err.message });
}
