import type { Reader } from './reader.js';
import { Writer } from './writer.js';

/**
 * A request header, https://kafka.apache.org/protocol#protocol_messages ("Request Header v1/v2").
 * v2 (flexible requests) adds a tagged-field section; client_id stays an int16-length string in
 * both, as measured from librdkafka (WIRE-FACTS.md §2.1).
 */
export interface RequestHeader {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
}

/** The fixed part every request starts with; enough to pick a handler before parsing further. */
export function readRequestHeaderPrefix(r: Reader): Pick<RequestHeader, 'apiKey' | 'apiVersion' | 'correlationId'> {
  const apiKey = r.readInt16();
  const apiVersion = r.readInt16();
  const correlationId = r.readInt32();
  return { apiKey, apiVersion, correlationId };
}

/** Reads client_id (and, for header v2, the tagged fields) after {@link readRequestHeaderPrefix}. */
export function readRequestHeaderRest(r: Reader, flexible: boolean): { clientId: string | null } {
  const clientId = r.readNullableString();
  if (flexible) r.readTaggedFields();
  return { clientId };
}

/**
 * Response header v0 (`correlation_id`) or v1 (plus an empty tagged-field section). Flexible
 * responses use v1, except ApiVersions, which always answers with v0 so a client can read it
 * before knowing what the broker supports (KIP-511; WIRE-FACTS.md §1).
 */
export function writeResponseHeader(correlationId: number, headerVersion: 0 | 1): Buffer {
  const w = new Writer(8);
  w.writeInt32(correlationId);
  if (headerVersion === 1) w.writeEmptyTaggedFields();
  return w.toBuffer();
}
