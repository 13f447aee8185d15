// Command go_verifier checks a Lumen transparency log with Go's own sumdb packages, not with Lumen's code:
// golang.org/x/mod/sumdb/note opens the signed checkpoints with the pinned verifier key, and
// golang.org/x/mod/sumdb/tlog checks inclusion proofs (CheckRecord) and a consistency proof (CheckTree),
// and re-derives both from the log's published hash tiles (TileHashReader, ProveRecord, ProveTree), which
// authenticates every tile it reads against the signed root. It is what an outside auditor with the Go
// toolchain would run (issue 13: keep Lumen's checkpoints, proofs and tiles readable by independent
// clients); tests/tlog/test_go_verifier.py builds and runs it.
//
//	go_verifier -vkey VKEY -log TLOG_DIR [-proof X.proof.json -entry X.dsse.json]... [-old OLD_CHECKPOINT -consistency HEX_FILE]
//
// -proof/-entry pairs: a Lumen inclusion proof record and the entry it proves (the logged envelope).
// -old/-consistency: an older signed checkpoint and Lumen's RFC 9162 consistency proof from it to the log's
// current checkpoint, one hex hash per line. Prints one "ok ..." line per check and exits 0, or prints
// "FAIL ..." and exits 1 at the first failure.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

// checkpoint is a C2SP tlog-checkpoint body: origin, tree size, base64 root hash, extension lines.
type checkpoint struct {
	origin string
	tree   tlog.Tree
}

func openCheckpoint(text []byte, verifiers note.Verifiers) (checkpoint, error) {
	n, err := note.Open(text, verifiers)
	if err != nil {
		return checkpoint{}, fmt.Errorf("note.Open: %w", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return checkpoint{}, errors.New("checkpoint body has fewer than three lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return checkpoint{}, fmt.Errorf("tree size %q is not a decimal count", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return checkpoint{}, fmt.Errorf("root hash %q is not base64 of 32 bytes", lines[2])
	}
	var h tlog.Hash
	copy(h[:], root)
	return checkpoint{origin: lines[0], tree: tlog.Tree{N: size, Hash: h}}, nil
}

// c2spTiles reads the C2SP tlog-tiles layout (tile/<L>/<N>[.p/<W>]): Go's sumdb path is
// tile/<H>/<L>/<N>[.p/<W>], the same tiles with the height (8) spelled out.
type c2spTiles struct{ dir string }

func (c2spTiles) Height() int { return 8 }

func (r c2spTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		goPath := t.Path()
		c2spPath := "tile/" + strings.SplitN(goPath, "/", 3)[2]
		b, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(c2spPath)))
		if err != nil {
			return nil, fmt.Errorf("tile %s: %w", c2spPath, err)
		}
		data[i] = b
	}
	return data, nil
}

func (c2spTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// bundleEntry is leaf `index`'s entry in the C2SP entry bundle tile/entries/<N>[.p/<W>] of a tree of `size`
// leaves (each entry: 2-byte big-endian length, then its bytes).
func bundleEntry(dir string, index, size int64) ([]byte, error) {
	t := tlog.Tile{H: 8, L: 0, N: index / 256, W: 256}
	if rest := size - t.N*256; rest < 256 {
		t.W = int(rest)
	}
	name := "tile/entries/" + strings.SplitN(t.Path(), "/", 4)[3]
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		return nil, fmt.Errorf("entry bundle %s: %w", name, err)
	}
	for i := int64(0); i < int64(t.W); i++ {
		if len(data) < 2 || len(data) < 2+int(binary.BigEndian.Uint16(data)) {
			return nil, fmt.Errorf("entry bundle %s: truncated at entry %d", name, i)
		}
		n := int(binary.BigEndian.Uint16(data))
		if i == index%256 {
			return data[2 : 2+n], nil
		}
		data = data[2+n:]
	}
	return nil, fmt.Errorf("entry bundle %s has no entry %d", name, index%256)
}

type proofRecord struct {
	LeafIndex  int64    `json:"leaf_index"`
	TreeSize   int64    `json:"tree_size"`
	LeafHash   string   `json:"leaf_hash"`
	Hashes     []string `json:"hashes"`
	Checkpoint string   `json:"checkpoint"`
}

func parseHashes(hexes []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, 0, len(hexes))
	for _, x := range hexes {
		b, err := hex.DecodeString(strings.TrimSpace(x))
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("%q is not a hex SHA-256 hash", x)
		}
		var h tlog.Hash
		copy(h[:], b)
		out = append(out, h)
	}
	return out, nil
}

func equal(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func run() error {
	var proofs, entries files
	vkey := flag.String("vkey", "", "the log's C2SP verifier key (name+id+key)")
	logDir := flag.String("log", "", "the log folder (checkpoint, tile/)")
	flag.Var(&proofs, "proof", "a Lumen .proof.json inclusion proof (repeatable)")
	flag.Var(&entries, "entry", "the entry that -proof proves (repeatable, same order)")
	oldFile := flag.String("old", "", "an older signed checkpoint")
	consistencyFile := flag.String("consistency", "", "consistency proof -old -> current checkpoint, hex per line")
	flag.Parse()
	if *vkey == "" || *logDir == "" || len(proofs) != len(entries) {
		return errors.New("usage: go_verifier -vkey VKEY -log DIR [-proof P -entry E]... [-old CP -consistency F]")
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(*vkey))
	if err != nil {
		return fmt.Errorf("verifier key: %w", err)
	}
	verifiers := note.VerifierList(verifier)

	text, err := os.ReadFile(filepath.Join(*logDir, "checkpoint"))
	if err != nil {
		return err
	}
	current, err := openCheckpoint(text, verifiers)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	tiles := tlog.TileHashReader(current.tree, c2spTiles{*logDir})
	root, err := tlog.TreeHash(current.tree.N, tiles)
	if err != nil {
		return fmt.Errorf("tiles for size %d: %w", current.tree.N, err)
	}
	if root != current.tree.Hash {
		return fmt.Errorf("tiles give root %v, checkpoint says %v", root, current.tree.Hash)
	}
	fmt.Printf("ok checkpoint %s size %d signed by %s; its tiles authenticate against its root\n",
		current.origin, current.tree.N, verifier.Name())

	for i, proofPath := range proofs {
		var record proofRecord
		raw, err := os.ReadFile(proofPath)
		if err == nil {
			err = json.Unmarshal(raw, &record)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", proofPath, err)
		}
		entry, err := os.ReadFile(entries[i])
		if err != nil {
			return err
		}
		signed, err := openCheckpoint([]byte(record.Checkpoint), verifiers)
		if err != nil {
			return fmt.Errorf("%s: its checkpoint: %w", proofPath, err)
		}
		if signed.tree.N != record.TreeSize {
			return fmt.Errorf("%s: proof for size %d, checkpoint of size %d", proofPath, record.TreeSize, signed.tree.N)
		}
		leaf := tlog.RecordHash(entry)
		if hex.EncodeToString(leaf[:]) != record.LeafHash {
			return fmt.Errorf("%s: the entry's record hash %x is not the proof's leaf hash %s", proofPath, leaf[:], record.LeafHash)
		}
		hashes, err := parseHashes(record.Hashes)
		if err != nil {
			return fmt.Errorf("%s: %w", proofPath, err)
		}
		if err := tlog.CheckRecord(hashes, record.TreeSize, signed.tree.Hash, record.LeafIndex, leaf); err != nil {
			return fmt.Errorf("%s: tlog.CheckRecord leaf %d in size %d: %w", proofPath, record.LeafIndex, record.TreeSize, err)
		}
		fromTiles, err := tlog.ProveRecord(record.TreeSize, record.LeafIndex, tiles)
		if err != nil {
			return fmt.Errorf("%s: tlog.ProveRecord from tiles: %w", proofPath, err)
		}
		// TileHashReader (x/mod 0.7.0) leaves a full child tile unauthenticated when several of the tree's
		// subtree roots share one tile, so a proof read from tiles is checked on its own too.
		if err := tlog.CheckRecord(fromTiles, record.TreeSize, signed.tree.Hash, record.LeafIndex, leaf); err != nil {
			return fmt.Errorf("%s: the tiles give a proof that does not verify (a tile altered?): %w", proofPath, err)
		}
		if !equal(fromTiles, hashes) {
			return fmt.Errorf("%s: the proof differs from the one the tiles give", proofPath)
		}
		bundled, err := bundleEntry(*logDir, record.LeafIndex, current.tree.N)
		if err != nil {
			return err
		}
		if !bytes.Equal(bundled, entry) {
			return fmt.Errorf("%s: entry bundle holds other bytes for leaf %d", proofPath, record.LeafIndex)
		}
		fmt.Printf("ok inclusion leaf %d in size %d (%s): CheckRecord, same proof and entry from the tiles\n",
			record.LeafIndex, record.TreeSize, filepath.Base(proofPath))
	}

	if *oldFile != "" || *consistencyFile != "" {
		oldText, err := os.ReadFile(*oldFile)
		if err != nil {
			return err
		}
		old, err := openCheckpoint(oldText, verifiers)
		if err != nil {
			return fmt.Errorf("%s: %w", *oldFile, err)
		}
		raw, err := os.ReadFile(*consistencyFile)
		if err != nil {
			return err
		}
		hashes, err := parseHashes(strings.Fields(string(raw)))
		if err != nil {
			return fmt.Errorf("%s: %w", *consistencyFile, err)
		}
		if err := tlog.CheckTree(hashes, current.tree.N, current.tree.Hash, old.tree.N, old.tree.Hash); err != nil {
			return fmt.Errorf("%s: tlog.CheckTree %d -> %d: %w", *consistencyFile, old.tree.N, current.tree.N, err)
		}
		fromTiles, err := tlog.ProveTree(current.tree.N, old.tree.N, tiles)
		if err != nil {
			return fmt.Errorf("tlog.ProveTree from tiles: %w", err)
		}
		if err := tlog.CheckTree(fromTiles, current.tree.N, current.tree.Hash, old.tree.N, old.tree.Hash); err != nil {
			return fmt.Errorf("tlog.ProveTree: the tiles give a proof that does not verify (a tile altered?): %w", err)
		}
		if !equal(fromTiles, hashes) {
			return fmt.Errorf("%s: the proof differs from the one the tiles give", *consistencyFile)
		}
		fmt.Printf("ok consistency size %d -> %d: CheckTree, same proof from the tiles\n", old.tree.N, current.tree.N)
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Println("FAIL " + err.Error())
		os.Exit(1)
	}
}
