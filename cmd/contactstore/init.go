package main

import (
	"errors"
	"io/fs"

	"contactstore/crypto"
	"contactstore/store"
)

func init() {
	register(command{name: "init", summary: "create a new store and its root key file", run: cmdInit})
}

func cmdInit(e *env, args []string) int {
	f := e.flags("init", "--dir DIR [--key-file F] [--phone-region CC] [--fold-email-providers]")
	sf := addStoreFlags(f)
	shards := f.Int("shards", 0, "number of shard keys (default 4096)")
	region := f.String("phone-region", "NL", "the region whose national numbers the phone index assumes for numbers without a country code (ISO 3166 code; empty: index only numbers with one); fixed for the store's life")
	fold := f.Bool("fold-email-providers", false, "index addresses at providers that ignore dots, +tags or case (Gmail and others) in their canonical form; fixed for the store's life")
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 0 || *sf.dir == "" })
	if !ok {
		return code
	}
	kp := e.keyPath(sf)
	var root crypto.KeyWrapper
	var err error
	created := false
	if e.usePassphrase(sf) {
		root, err = e.rootKey(sf)
	} else {
		root, err = crypto.CreateKeyFile(kp)
		created = err == nil
		if errors.Is(err, fs.ErrExist) {
			// Never overwrite a key file: use the existing key.
			root, err = crypto.LoadKeyFile(kp)
		}
	}
	if err != nil {
		return e.fail(err)
	}
	s, err := store.Open(*sf.dir, &store.Options{RootKey: root, CreateIfMissing: true, ErrorIfExists: true, Shards: *shards, Logger: e.logger(),
		PhoneRegion: *region, FoldEmailProviders: *fold})
	if err == nil {
		// Open also opens an existing store: init must not pretend it created one.
		err = errors.Join(s.Close())
	}
	if err != nil {
		return e.fail(err)
	}
	switch {
	case e.usePassphrase(sf):
		e.infof("the key vault is sealed under Argon2id of $%s: without the passphrase nothing can be read", passphraseEnv)
	case created:
		e.infof("created root key file %s (mode 0600): keep it secret, and keep a copy away from this disk", kp)
	default:
		e.infof("using the existing root key file %s", kp)
	}
	e.infof("store %s ready in %s", s.StoreID(), *sf.dir)
	return exitOK
}
