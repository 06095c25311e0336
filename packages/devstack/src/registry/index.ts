/** Embedded Confluent-compatible Schema Registry of the dev stack. */
export { startSchemaRegistry, type SchemaRegistryHandle, type SchemaRegistryOptions } from './server.js';
export { COMPATIBILITY_LEVELS, type CompatibilityLevel } from './compatibility.js';
