/** Embedded Confluent-compatible Schema Registry for the dev stack; production code never imports it. */
export { startSchemaRegistry, type SchemaRegistryHandle, type SchemaRegistryOptions } from './server.js';
export { COMPATIBILITY_LEVELS, type CompatibilityLevel } from './compatibility.js';
