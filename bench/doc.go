// Package bench measures contactstore against plain Pebble on the same data: ingest
// (RunIngest), expiry (RunExpiry) and export (RunExport).
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
//
// RunExpiry loads N contacts that fall due on one day plus N/10 that stay (mixed in the same
// customers), then expires the day: "contactstore" with Store.Expire (the key destruction,
// timed from the store's log line, makes them unreadable; the clean-up and compactions
// reclaim the space), "pebble-rangedel" with one DeleteRange over keys laid out by expiry
// day, and "pebble-pointdel" with a scan and point deletes over time-ordered keys. It
// reports when the data became unreadable, when the space was reclaimed, and the disk size
// before and after; ExpiryMarkdown renders the table.
//
// RunExport loads one customer's N contacts and streams them out: "contactstore" and
// "contactstore-age" with Store.Export (plain, and encrypted to one age recipient), and
// "pebble-tuned-nocompress" scanning the same contacts stored as plaintext JSON and writing
// the same JSON Lines with SHA-256 (export without decryption, decompression or guard). It
// reports contacts/s, MB/s, CPU and peak memory (heap and RSS, sampled every 5 ms);
// ExportMarkdown renders the table.
package bench
