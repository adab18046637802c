package nix

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"slices"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// storeDB reads the Nix store database (ValidPaths, Refs) read-only.
//
// Nix keeps the database in WAL mode, so a reader never blocks Nix's
// writers; mode=ro guarantees we never write, and query_only makes sure no
// statement could even try. A busy timeout bounds waits for a checkpoint.
type storeDB struct {
	db *sql.DB
}

func openStoreDB(path string) (*storeDB, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?mode=ro&_pragma=busy_timeout(5000)&_pragma=query_only(1)&_pragma=mmap_size(268435456)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open Nix database %s: %w", path, err)
	}
	// Two connections: LocalClosures.QueryAll reads both sides of a diff at once.
	db.SetMaxOpenConns(2)
	// Opening is lazy; a trivial query proves the file is a readable Nix DB.
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name IN ('ValidPaths','Refs')`).Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("read Nix database %s: %w", path, err)
	}
	if n != 2 {
		db.Close()
		return nil, fmt.Errorf("read Nix database %s: no ValidPaths/Refs tables", path)
	}
	return &storeDB{db: db}, nil
}

func (s *storeDB) close() error { return s.db.Close() }

// closureCTE walks Refs from the root: UNION (not UNION ALL) stops at
// paths already seen, so shared dependencies are visited once.
const closureCTE = `
WITH RECURSIVE closure(id) AS (
  SELECT id FROM ValidPaths WHERE path = ?
  UNION
  SELECT r.reference FROM Refs r JOIN closure c ON r.referrer = c.id
)`

const closureQuery = closureCTE + `
SELECT v.id, v.path, coalesce(v.narSize, 0) FROM ValidPaths v JOIN closure c ON v.id = c.id`

// edgesQuery lists the references between the closure's paths by id, for
// the order nix-store -qR prints them in. (Joining the paths in SQL makes
// modernc's SQLite take seconds; Go maps the ids in microseconds.)
const edgesQuery = closureCTE + `
SELECT r.referrer, r.reference FROM closure c CROSS JOIN Refs r ON r.referrer = c.id`

// orderAlways makes closure sort every closure, for TestRequisitesOrder.
var orderAlways = false

const refsQuery = `
SELECT t.path FROM ValidPaths f JOIN Refs r ON r.referrer = f.id JOIN ValidPaths t ON t.id = r.reference
WHERE f.path = ?`

// closure reads root's closure, its references and those of sw (if any)
// in one read transaction, so they describe one consistent store state.
func (s *storeDB) closure(ctx context.Context, root, sw string) (*Closure, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("query Nix database: %w", err)
	}
	defer tx.Rollback()
	c := &Closure{Root: root, SW: sw, Paths: make(map[string]int64, 4096)}
	rows, err := tx.QueryContext(ctx, closureQuery, root)
	if err != nil {
		return nil, fmt.Errorf("query closure of %s: %w", root, err)
	}
	byID := make(map[int64]string, 4096)
	for rows.Next() {
		var id, n int64
		var p string
		if err := rows.Scan(&id, &p, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("query closure of %s: %w", root, err)
		}
		c.Paths[p] = n
		byID[id] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query closure of %s: %w", root, err)
	}
	rows.Close()
	if len(c.Paths) == 0 {
		return nil, fmt.Errorf("%s: %w", root, errNotValid)
	}
	// The order costs a second walk of the closure; it only matters for
	// versions spelt apart, which most closures do not have.
	if orderAlways || spellingsDiffer(c.Paths) {
		if c.Order, err = queryOrder(ctx, tx, root, byID); err != nil {
			return nil, err
		}
	}
	if c.Refs, err = queryRefs(ctx, tx, root); err != nil {
		return nil, err
	}
	if sw != "" {
		if c.SWRefs, err = queryRefs(ctx, tx, sw); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func queryRefs(ctx context.Context, tx *sql.Tx, p string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, refsQuery, p)
	if err != nil {
		return nil, fmt.Errorf("query references of %s: %w", p, err)
	}
	defer rows.Close()
	var refs []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("query references of %s: %w", p, err)
		}
		refs = append(refs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query references of %s: %w", p, err)
	}
	return refs, nil
}

// queryOrder reads the references between the closure's paths (byID
// maps their ids) and sorts the paths as nix-store -qR prints them (see
// requisitesOrder).
func queryOrder(ctx context.Context, tx *sql.Tx, root string, byID map[int64]string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, edgesQuery, root)
	if err != nil {
		return nil, fmt.Errorf("query references in the closure of %s: %w", root, err)
	}
	defer rows.Close()
	refs := make(map[string][]string, len(byID))
	for rows.Next() {
		var from, to int64
		if err := rows.Scan(&from, &to); err != nil {
			return nil, fmt.Errorf("query references in the closure of %s: %w", root, err)
		}
		if f, t := byID[from], byID[to]; f != "" && t != "" {
			refs[f] = append(refs[f], t)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query references in the closure of %s: %w", root, err)
	}
	paths := make([]string, 0, len(byID))
	for _, p := range byID {
		paths = append(paths, p)
	}
	return requisitesOrder(paths, refs), nil
}

// requisitesOrder is the order of `nix-store -qR`: Nix sorts the paths
// topologically (a depth-first search over the paths and each path's
// references, both in name order, each path placed after its references)
// and prints the result dependencies first, which is the search's
// post-order.
func requisitesOrder(paths []string, refs map[string][]string) []string {
	slices.Sort(paths)
	order := make([]string, 0, len(paths))
	visited := make(map[string]bool, len(paths))
	var visit func(p string)
	visit = func(p string) {
		if visited[p] {
			return
		}
		visited[p] = true
		rs := refs[p]
		slices.Sort(rs)
		for _, r := range rs {
			if r != p {
				visit(r)
			}
		}
		order = append(order, p)
	}
	for _, p := range paths {
		visit(p)
	}
	return order
}
