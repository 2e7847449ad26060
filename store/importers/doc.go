// Package importers brings contacts from other tools into a store: JSON Lines in the
// store's own form, mail archives (mbox), Zendesk, Freshdesk and Help Scout exports, and
// CSV files. Import reads its inputs as a stream, maps each record to a store.Contact,
// validates it and stores it in batches; `contactstore ingest --format` is a thin layer over
// it. See docs/import.md for what each format maps to what.
//
// # Ids and idempotence
//
// A contact's ID is the source's own identifier ("mbox:<Message-ID>",
// "zendesk:comment:123", "csv:<id column>", ...), so importing the same export twice
// replaces the contacts of the first run instead of adding copies. JSON Lines contacts keep
// the id they carry (or get a new one when they have none, as with `ingest`).
//
// # Categories
//
// Options.Categories maps the source's categories (ticket types, mailboxes, folders) to
// the store's retention categories; see ParseCategories. A category that the mapping does
// not name, when it has no "*" entry, is kept as the source wrote it, and an empty one
// stays empty (the store's "general"): a retention policy gives both its default term.
//
// # Problems
//
// A record that cannot be read or whose contact is invalid is a problem, reported with
// its position (file, line, record number) and what is wrong, never with a value. By
// default Import stops at the first problem, after committing every contact read before
// it, and returns a *ProblemError. With Options.SkipInvalid it counts the problem, keeps
// the first Options.MaxProblems of them in Result.Problems, and goes on. Errors that make
// the rest of an input unreadable (malformed JSON syntax, I/O errors, a CSV header that
// does not fit the mapping) stop the import whatever SkipInvalid says, again after
// committing what came before.
//
// # Memory
//
// Readers hold one record at a time (the Zendesk and Freshdesk readers also a compact
// summary per ticket, to join comments with their tickets), and Import holds at most three
// batches: one being filled and two being stored. A batch is closed at Options.BatchSize
// contacts or at about 32 MiB of contact data, whichever comes first, so memory does not
// grow with the size of the input.
package importers
