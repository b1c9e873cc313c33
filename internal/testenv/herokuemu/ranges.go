package herokuemu

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

const (
	defaultPageSize = 200
	maxPageSize     = 1000
)

// rangeSpec is a parsed Platform API Range header:
//
//	FIELD [START]..[END]; max=N, order=desc
//
// "]" before START excludes it (that is how Next-Range continues after the
// last value returned); "[" after END excludes END. Bounds are given in
// iteration order: with order=desc START is the upper bound.
type rangeSpec struct {
	field        string
	start, end   string
	startX, endX bool
	max          int
	desc         bool
}

func parseRange(h string, fields []string, pageSize int) (rangeSpec, error) {
	rs := rangeSpec{field: fields[0], max: pageSize}
	h = strings.TrimSpace(h)
	if h == "" {
		return rs, nil
	}
	head, params, _ := strings.Cut(h, ";")
	head = strings.TrimSpace(head)
	field, rng, ok := strings.Cut(head, " ")
	if !ok {
		// "FIELD" alone, or "..": be lenient with the field-only form.
		field, rng = head, ".."
	}
	field = strings.TrimSpace(field)
	known := false
	for _, f := range fields {
		if f == field {
			known = true
		}
	}
	if !known {
		return rs, fmt.Errorf("cannot range on %q; acceptable ranges: %s", field, strings.Join(fields, ", "))
	}
	rs.field = field
	start, end, ok := strings.Cut(strings.TrimSpace(rng), "..")
	if !ok {
		return rs, fmt.Errorf("range %q lacks \"..\"", rng)
	}
	if s, ok := strings.CutPrefix(start, "]"); ok {
		rs.startX, start = true, s
	}
	if s, ok := strings.CutSuffix(end, "["); ok {
		rs.endX, end = true, s
	}
	rs.start, rs.end = start, end
	for _, p := range strings.FieldsFunc(params, func(r rune) bool { return r == ',' || r == ';' }) {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.TrimSpace(k) {
		case "max":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 {
				return rs, fmt.Errorf("invalid max %q", v)
			}
			if n > maxPageSize {
				n = maxPageSize
			}
			rs.max = n
		case "order":
			switch strings.TrimSpace(v) {
			case "asc":
				rs.desc = false
			case "desc":
				rs.desc = true
			default:
				return rs, fmt.Errorf("invalid order %q", v)
			}
		case "":
		default:
			return rs, fmt.Errorf("unknown range parameter %q", k)
		}
	}
	return rs, nil
}

// ranged is a list whose items can be ranged over.
type ranged struct {
	fields []string
	// value returns an item's value for field.
	value func(i int, field string) string
	// numeric lists fields compared as integers.
	numeric map[string]bool
	n       int
}

func (rl ranged) less(field string, a, b string) bool {
	if rl.numeric[field] {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x < y
	}
	return a < b
}

// apply returns the indexes of the page to return and the headers to send.
func (rl ranged) apply(rs rangeSpec) (page []int, status int, hdr http.Header) {
	idx := make([]int, rl.n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		va, vb := rl.value(idx[a], rs.field), rl.value(idx[b], rs.field)
		if rs.desc {
			return rl.less(rs.field, vb, va)
		}
		return rl.less(rs.field, va, vb)
	})
	// before reports whether a comes before b in iteration order.
	before := func(a, b string) bool {
		if rs.desc {
			return rl.less(rs.field, b, a)
		}
		return rl.less(rs.field, a, b)
	}
	var sel []int
	for _, i := range idx {
		v := rl.value(i, rs.field)
		if rs.start != "" {
			if before(v, rs.start) || (rs.startX && v == rs.start) {
				continue
			}
		}
		if rs.end != "" {
			if before(rs.end, v) || (rs.endX && v == rs.end) {
				continue
			}
		}
		sel = append(sel, i)
	}
	hdr = http.Header{}
	hdr.Set("Accept-Ranges", strings.Join(rl.fields, ", "))
	status = http.StatusOK
	page = sel
	if len(sel) > rs.max {
		page = sel[:rs.max]
		status = http.StatusPartialContent
		last := rl.value(page[len(page)-1], rs.field)
		next := fmt.Sprintf("%s ]%s..%s", rs.field, last, rs.end)
		if rs.endX {
			next += "["
		}
		next += fmt.Sprintf("; max=%d", rs.max)
		if rs.desc {
			next += ", order=desc"
		}
		hdr.Set("Next-Range", next)
	}
	if len(page) > 0 {
		hdr.Set("Content-Range", fmt.Sprintf("%s %s..%s", rs.field, rl.value(page[0], rs.field), rl.value(page[len(page)-1], rs.field)))
	}
	return page, status, hdr
}
