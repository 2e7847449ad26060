package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"contactstore/crypto"

	"github.com/cockroachdb/pebble/v2/vfs"
)

const maxVaultSize = 64 << 20

func readFile(fs vfs.FS, path string) ([]byte, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxVaultSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxVaultSize {
		return nil, errors.New("file too large to be a key vault")
	}
	return data, nil
}

// writeVault replaces DIR/keyvault atomically: write a temporary file, fsync it, rename it
// over the old vault, fsync the directory. A crash at any point leaves either the old vault
// or the new one; Open removes a leftover temporary file.
func writeVault(ctx context.Context, fs vfs.FS, dir string, v *crypto.Vault, root crypto.KeyWrapper) error {
	data, err := v.Marshal(ctx, root)
	if err != nil {
		return wrapErr("sealing the key vault", err)
	}
	tmp := fs.PathJoin(dir, vaultTemp)
	f, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return wrapErr("writing the key vault", err)
	}
	_, werr := f.Write(data)
	if vfs.Root(fs) == vfs.Default {
		// The vault is sealed, but nobody else has any business reading it.
		werr = errors.Join(werr, os.Chmod(tmp, 0o600))
	}
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = fs.Remove(tmp)
		return wrapErr("writing the key vault", err)
	}
	if err := fs.Rename(tmp, fs.PathJoin(dir, VaultFile)); err != nil {
		_ = fs.Remove(tmp)
		return wrapErr("replacing the key vault", err)
	}
	d, err := fs.OpenDir(dir)
	if err != nil {
		return wrapErr("syncing the store directory", err)
	}
	serr = d.Sync()
	cerr = d.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return wrapErr("syncing the store directory", err)
	}
	return nil
}

// updateVault applies change to a copy of the current vault, writes it with the next
// generation and makes it current. Only after it returns nil is the new state durable. An
// error after the new file has landed (the directory sync failed) still makes it current:
// it is what the disk holds, and a later write must not bring back what it replaced.
func (s *Store) updateVault(ctx context.Context, change func(v *crypto.Vault) error) error {
	s.vaultMu.Lock()
	defer s.vaultMu.Unlock()
	cur := s.vault.Load()
	next := cur.Clone()
	if err := change(next); err != nil {
		if errors.Is(err, errNoChange) {
			return nil
		}
		return err
	}
	next.Generation = cur.Generation + 1
	if err := writeVault(ctx, s.fs, s.dir, next, s.opts.RootKey); err != nil {
		if s.vaultLanded(next.Generation) {
			s.vault.Store(next)
		}
		return fmt.Errorf("%w (key vault generation %d)", err, next.Generation) // keeps the "contactstore: " prefix first
	}
	s.vault.Store(next)
	return nil
}
