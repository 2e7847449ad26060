// Package bench measures contactstore's ingest against plain Pebble on the same data.
//
// RunIngest generates Config.N contacts once, up front and outside the measurement, with
// the workload generator (internal/workload, the same seed gives the same contacts on
// every run and machine), and writes them in batches through each peer:
//
//   - "contactstore": store.Put, everything sealed per customer, Pebble options the
//     store's own.
//   - "pebble-default": pebble.Open with zero Options (Pebble's defaults: 4 MiB memtable,
//     Snappy blocks), one batch per Put, key = customer "/" RFC 3339 time "/" id,
//     value = json.Marshal(contact) in plaintext.
//   - "pebble-tuned": the same keys and values with the Pebble options the store uses
//     (64 MiB memtables, L0 thresholds, Lbase size, bloom filters, newest format) but
//     Pebble's default block compression (Snappy), because its values are plaintext.
//   - "pebble-tuned-nocompress": as pebble-tuned, with block compression off as in the
//     store.
//
// A batch is committed with fsync when Config.Sync is set. Each peer's time covers only
// its writes: for the Pebble peers that includes marshalling the JSON value, for the store
// validation, encoding, compression and sealing — each side's own cost of storing a
// contact.
//
// After the ingest each peer is "settled" (see Result.SettleMethod) and its directory
// measured again; the settled throughput charges that time to the ingest.
//
// Markdown renders a table of the results with ratios between every pair of peers.
package bench
