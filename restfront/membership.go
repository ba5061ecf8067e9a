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
	q.w.Header()["Content-Type"] = hdrXML
	q.w.WriteHeader(http.StatusOK)
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(q.w)
	defer func() {
		bw.Reset(nil)
		writerPool.Put(bw)
	}()
	_, _ = bw.WriteString(xml.Header + "<memberships>")
	var err error
	s.store.Groups("", func(g cache.Group) bool {
		name := g.Rec.Name
		_, _ = bw.WriteString(`<membership group="`)
		writeXMLAttr(bw, q.v.out(name))
		_, _ = bw.WriteString(`"><users>`)
		for _, u := range s.store.GroupUsers(name, false, q.app.aggregate) {
			_, _ = bw.WriteString(`<user name="`)
			writeXMLAttr(bw, q.v.out(u))
			_, _ = bw.WriteString(`"/>`)
		}
		_, _ = bw.WriteString(`</users><groups>`)
		for _, c := range s.store.GroupChildren(name, false) {
			_, _ = bw.WriteString(`<group name="`)
			writeXMLAttr(bw, q.v.out(c))
			_, _ = bw.WriteString(`"/>`)
		}
		_, err = bw.WriteString(`</groups></membership>`)
		return err == nil && q.r.Context().Err() == nil
	})
	_, _ = bw.WriteString("</memberships>")
	_ = bw.Flush()
}
