package restfront

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"net/http"
)

// listWriter streams a <users>/<groups> list (or its JSON form) as the
// entries come: a full sync asks for every user with max-results=-1, and
// 100,000 rendered users need not sit in memory at once.
type listWriter struct {
	q     *request
	bw    *bufio.Writer
	enc   *xml.Encoder
	first bool
	users bool
}

func (q *request) beginList(users bool) *listWriter {
	q.contentType()
	q.w.WriteHeader(http.StatusOK)
	lw := &listWriter{q: q, bw: bufio.NewWriterSize(q.w, 32<<10), first: true, users: users}
	kind, expand := "groups", "group"
	if users {
		kind, expand = "users", "user"
	}
	if q.json {
		_, _ = lw.bw.WriteString(`{"expand":"` + expand + `","` + kind + `":[`)
	} else {
		_, _ = lw.bw.WriteString(xml.Header + `<` + kind + ` expand="` + expand + `">`)
		lw.enc = xml.NewEncoder(lw.bw)
	}
	return lw
}

func (lw *listWriter) add(xmlForm, jsonForm any) {
	if lw.q.json {
		b, err := json.Marshal(jsonForm)
		if err != nil {
			return
		}
		if !lw.first {
			_ = lw.bw.WriteByte(',')
		}
		_, _ = lw.bw.Write(b)
	} else {
		_ = lw.enc.Encode(xmlForm)
	}
	lw.first = false
}

func (lw *listWriter) user(e *userEntity)   { lw.add(&e.x, &e.j) }
func (lw *listWriter) group(e *groupEntity) { lw.add(&e.x, &e.j) }

func (lw *listWriter) end() {
	if lw.q.json {
		_, _ = lw.bw.WriteString("]}")
	} else {
		_ = lw.enc.Flush()
		if lw.users {
			_, _ = lw.bw.WriteString("</users>")
		} else {
			_, _ = lw.bw.WriteString("</groups>")
		}
	}
	_ = lw.bw.Flush()
}
