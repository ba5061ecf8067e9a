package restfront

import (
	"bufio"
	"encoding/xml"
	"net/http"

	"github.com/dirgate/dirgate/cache"
)

// memberships streams GET /group/membership (crowd-rest.md §5.4): every
// group with its direct users and direct child groups, in XML whatever the
// Accept header says. It is written as it is read, a group at a time, so
// 100,000 users in 10,000 groups never sit in memory as one document.
func (s *Server) memberships(q *request) {
	q.w.Header().Set("Content-Type", "application/xml")
	q.w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(q.w, 64<<10)
	_, _ = bw.WriteString(xml.Header + "<memberships>")
	var err error
	s.store.Groups("", func(g cache.Group) bool {
		name := g.Rec.Name
		_, _ = bw.WriteString(`<membership group="`)
		escapeAttr(bw, q.v.out(name))
		_, _ = bw.WriteString(`"><users>`)
		for _, u := range s.store.GroupUsers(name, false, q.app.aggregate) {
			_, _ = bw.WriteString(`<user name="`)
			escapeAttr(bw, q.v.out(u))
			_, _ = bw.WriteString(`"/>`)
		}
		_, _ = bw.WriteString(`</users><groups>`)
		for _, c := range s.store.GroupChildren(name, false) {
			_, _ = bw.WriteString(`<group name="`)
			escapeAttr(bw, q.v.out(c))
			_, _ = bw.WriteString(`"/>`)
		}
		_, err = bw.WriteString(`</groups></membership>`)
		return err == nil && q.r.Context().Err() == nil
	})
	_, _ = bw.WriteString("</memberships>")
	_ = bw.Flush()
}

// escapeAttr writes s as XML attribute content (dropping characters XML
// cannot carry).
func escapeAttr(w *bufio.Writer, s string) {
	_ = xml.EscapeText(w, []byte(stripInvalidXML(s)))
}
