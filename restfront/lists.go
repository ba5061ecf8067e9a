package restfront

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"sync"
	"unicode/utf8"
)

// listWriter streams a <users>/<groups> list (or its JSON form) as the
// entries come: a full sync asks for every user with max-results=-1, and
// 100,000 rendered users need not sit in memory at once.
type listWriter struct {
	q     *request
	bw    *bufio.Writer
	enc   *xml.Encoder // made on the first full XML entry
	first bool
	users bool
}

func (q *request) beginList(users bool) *listWriter {
	q.contentType()
	q.w.WriteHeader(http.StatusOK)
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(q.w)
	lw := &listWriter{q: q, bw: bw, first: true, users: users}
	switch {
	case q.json && users:
		_, _ = lw.bw.WriteString(`{"expand":"user","users":[`)
	case q.json:
		_, _ = lw.bw.WriteString(`{"expand":"group","groups":[`)
	case users:
		_, _ = lw.bw.WriteString(xml.Header + `<users expand="user">`)
	default:
		_, _ = lw.bw.WriteString(xml.Header + `<groups expand="group">`)
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
		if lw.enc == nil {
			lw.enc = xml.NewEncoder(lw.bw)
		}
		_ = lw.enc.Encode(xmlForm)
	}
	lw.first = false
}

func (lw *listWriter) user(e *userEntity)   { lw.add(&e.x, &e.j) }
func (lw *listWriter) group(e *groupEntity) { lw.add(&e.x, &e.j) }

// minimal adds a minimal entry (name and self link) for a user or group
// name as stored. Lists of names are what Jira's membership reads and most
// clients ask for; in XML they are written directly, byte for byte what
// encoding/xml makes of userXML/groupXML (TestMinimalEntries), without its
// reflection and allocations.
func (lw *listWriter) minimal(name string) {
	v := lw.q.v
	if lw.q.json {
		if lw.users {
			lw.user(v.userMinimal(name))
		} else {
			lw.group(v.groupMinimal(name))
		}
		return
	}
	if lw.enc != nil {
		_ = lw.enc.Flush()
	}
	out := v.out(name)
	w := lw.bw
	elem, path, param := "group", "/group?groupname=", `" rel="self"></link></group>`
	if lw.users {
		elem, path, param = "user", "/user?username=", `" rel="self"></link></user>`
	}
	_ = w.WriteByte('<')
	_, _ = w.WriteString(elem)
	_, _ = w.WriteString(` name="`)
	writeXMLAttr(w, out)
	_, _ = w.WriteString(`"><link href="`)
	writeXMLAttr(w, v.base)
	_, _ = w.WriteString(path)
	writeXMLAttr(w, url.QueryEscape(out))
	_, _ = w.WriteString(param)
	lw.first = false
}

func (lw *listWriter) end() {
	if lw.q.json {
		_, _ = lw.bw.WriteString("]}")
	} else {
		if lw.enc != nil {
			_ = lw.enc.Flush()
		}
		if lw.users {
			_, _ = lw.bw.WriteString("</users>")
		} else {
			_, _ = lw.bw.WriteString("</groups>")
		}
	}
	_ = lw.bw.Flush()
	lw.bw.Reset(nil)
	writerPool.Put(lw.bw)
	lw.bw = nil
}

// writerPool holds the buffers lists are written through: most answers are
// a few hundred bytes, and a fresh 32 KiB buffer each time was most of
// what a membership read allocated.
var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}

// writeXMLAttr writes s as attribute content escaped exactly as
// encoding/xml escapes it: the five markup characters and tab, newline and
// carriage return as character references, and anything XML cannot carry
// (invalid UTF-8, control characters) as U+FFFD.
func writeXMLAttr(w *bufio.Writer, s string) {
	last := 0
	for i := 0; i < len(s); {
		r, width := utf8.DecodeRuneInString(s[i:])
		var esc string
		switch {
		case r == '"':
			esc = "&#34;"
		case r == '\'':
			esc = "&#39;"
		case r == '&':
			esc = "&amp;"
		case r == '<':
			esc = "&lt;"
		case r == '>':
			esc = "&gt;"
		case r == '\t':
			esc = "&#x9;"
		case r == '\n':
			esc = "&#xA;"
		case r == '\r':
			esc = "&#xD;"
		case r < 0x20 || r >= 0xD800 && r <= 0xDFFF || r == 0xFFFE || r == 0xFFFF || r == utf8.RuneError && width == 1:
			esc = "\uFFFD"
		default:
			i += width
			continue
		}
		_, _ = w.WriteString(s[last:i])
		_, _ = w.WriteString(esc)
		i += width
		last = i
	}
	_, _ = w.WriteString(s[last:])
}
