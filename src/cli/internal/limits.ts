/**
 * Size limits the CLI enforces before it sends anything.
 * @internal
 */

/**
 * The largest value `kv put` and `kv append` send, in UTF-8 bytes. It is the HTTP API's limit (1 MiB;
 * above it HTTP answers 413), so that a value written through one path can be read through the other.
 * Defined here until the servers' limits have one shared definition, which this should then be.
 */
export const MAX_VALUE_BYTES = 1024 * 1024
