/**
 * Confluent's Schema Registry wire format: byte 0 is the magic byte 0, bytes 1..4 the writer
 * schema's global id (big-endian int32), then the Avro binary body.
 * https://docs.confluent.io/platform/current/schema-registry/fundamentals/serdes-develop/index.html#wire-format
 */
export const MAGIC_BYTE = 0;
export const FRAME_HEADER_BYTES = 5;

/** A framed value split into its writer schema id and Avro body (a view, not a copy). */
export interface SchemaFrame {
  schemaId: number;
  payload: Buffer;
}

/** Reads the frame header; null when the value is too short or does not start with the magic byte. */
export function readSchemaFrame(value: Buffer): SchemaFrame | null {
  if (value.length < FRAME_HEADER_BYTES || value[0] !== MAGIC_BYTE) return null;
  return { schemaId: value.readInt32BE(1), payload: value.subarray(FRAME_HEADER_BYTES) };
}

/** Prefixes an Avro body with the magic byte and the writer schema id. */
export function writeSchemaFrame(schemaId: number, payload: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  framed[0] = MAGIC_BYTE;
  framed.writeInt32BE(schemaId, 1);
  payload.copy(framed, FRAME_HEADER_BYTES);
  return framed;
}
