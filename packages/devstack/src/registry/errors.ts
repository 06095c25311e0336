/**
 * The errors the registry answers with, as Confluent Schema Registry spells them: an HTTP status
 * plus a numeric `error_code` in the JSON body. Clients (the kafkajs registry client among them)
 * switch on the status and code, so both are kept exactly; the messages follow Schema Registry
 * 3.0.1 as measured (WIRE-FACTS.md §4.5).
 */
export class RegistryError extends Error {
  readonly status: number;
  readonly errorCode: number;

  constructor(status: number, errorCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RegistryError';
    this.status = status;
    this.errorCode = errorCode;
  }
}

/** 40401. The client library treats a 404 from `GET /config/{subject}` as "first registration". */
export const subjectNotFound = (): RegistryError => new RegistryError(404, 40401, 'Subject not found.');
/** 40402 */
export const versionNotFound = (): RegistryError => new RegistryError(404, 40402, 'Version not found.');
/** 40403 */
export const schemaNotFound = (): RegistryError => new RegistryError(404, 40403, 'Schema not found.');
/** 42201: the schema text is not a valid Avro schema (or names a reference that does not exist). */
export const invalidSchema = (detail: string): RegistryError =>
  new RegistryError(422, 42201, `Invalid schema: ${detail}`);
/** 42202 */
export const invalidVersion = (version: string): RegistryError =>
  new RegistryError(
    422,
    42202,
    `The specified version '${version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
  );
/** 42203 */
export const invalidCompatibilityLevel = (level: string): RegistryError =>
  new RegistryError(422, 42203, `Invalid compatibility level: '${level}'`);
/** 409 with error_code 409, the way Confluent reports an incompatible registration. */
export const incompatibleSchema = (reasons: readonly string[]): RegistryError =>
  new RegistryError(
    409,
    409,
    `Schema being registered is incompatible with an earlier schema; ${reasons.join('; ')}`,
  );
/** 50001: the data directory could not be written; nothing was changed in memory. */
export const storeError = (cause: unknown): RegistryError =>
  new RegistryError(500, 50001, 'Error in the backend data store', { cause });
/** A request the registry cannot even read: bad JSON, bad URL encoding. */
export const badRequest = (message: string): RegistryError => new RegistryError(400, 400, message);
/** A body that is JSON but not the shape the endpoint takes. */
export const unprocessable = (message: string): RegistryError => new RegistryError(422, 422, message);
