package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Resources answers resource lists from the resources table the Model writes: the REST API's
// list pages, in the order and with the filters of the in-memory read model's List
// (projections/state), from the resources_list indexes.
type Resources struct {
	pool *pgxpool.Pool
}

// NewResources returns the list queries over the pool's schema.
func NewResources(pool *pgxpool.Pool) *Resources { return &Resources{pool: pool} }

// ListQuery selects one page of a type's live resources, from this CP's own log and every
// replicated stream it follows, as the in-memory model lists them.
type ListQuery struct {
	Type     string
	Mesh     string            // "" for every mesh (and for global-scoped types)
	NameLike string            // substring of the name, matched byte-wise
	Labels   map[string]string // every label must be present with this value
	Offset   int               // the index of the first item, as the API's offset
	Limit    int               // at most this many items; 0 for all
}

// ListPage is one page of a list: how many resources match, and the page's resources as the
// REST API shows them (the JSON the event carried; jsonb does not keep its key order).
type ListPage struct {
	Total int
	Items []json.RawMessage
}

// List returns the page of q: resources ordered by name then mesh, byte-wise. The count and
// the page come from one statement, so one snapshot.
func (r *Resources) List(ctx context.Context, q ListQuery) (ListPage, error) {
	sql, args, err := buildList(q)
	if err != nil {
		return ListPage{}, fmt.Errorf("list %s: %w", q.Type, err)
	}
	rows, err := r.pool.Query(ctx, sql, args...)
	if err != nil {
		return ListPage{}, fmt.Errorf("list %s: %w", q.Type, err)
	}
	defer rows.Close()
	var page ListPage
	for rows.Next() {
		var total int64
		var res *string
		if err := rows.Scan(&total, &res); err != nil {
			return ListPage{}, fmt.Errorf("list %s: %w", q.Type, err)
		}
		page.Total = int(total)
		if res != nil {
			page.Items = append(page.Items, json.RawMessage(*res))
		}
	}
	if err := rows.Err(); err != nil {
		return ListPage{}, fmt.Errorf("list %s: %w", q.Type, err)
	}
	return page, nil
}

// buildList returns the SQL and arguments of q: the count joined with the page, so an offset
// past the end still answers the total (one row, no resource).
func buildList(q ListQuery) (string, []any, error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	conds := []string{"type = " + arg(q.Type)}
	// Within one mesh the mesh is constant, and the order is the name's (resources_list_mesh).
	order := `name COLLATE "C", mesh COLLATE "C"`
	if q.Mesh != "" {
		conds = append(conds, "mesh = "+arg(q.Mesh))
		order = `name COLLATE "C"`
	}
	if q.NameLike != "" {
		// strpos, not LIKE: a substring match with no wildcards to escape, as strings.Contains.
		conds = append(conds, "strpos(name, "+arg(q.NameLike)+") > 0")
	}
	if len(q.Labels) > 0 {
		b, err := json.Marshal(q.Labels)
		if err != nil {
			return "", nil, err
		}
		conds = append(conds, "labels @> "+arg(string(b))+"::jsonb")
	}
	where := strings.Join(conds, " AND ")
	limit := ""
	if q.Limit > 0 {
		limit = " LIMIT " + arg(q.Limit)
	}
	if q.Offset > 0 {
		limit += " OFFSET " + arg(q.Offset)
	}
	sql := `SELECT t.total, p.resource::text FROM (SELECT count(*) AS total FROM resources WHERE ` + where +
		`) t LEFT JOIN LATERAL (SELECT resource, name, mesh FROM resources WHERE ` + where + ` ORDER BY ` +
		order + limit + `) p ON true ORDER BY p.name COLLATE "C", p.mesh COLLATE "C"`
	return sql, args, nil
}
