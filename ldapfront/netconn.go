package ldapfront

import (
	"net"
	"reflect"
	"unsafe"

	"github.com/jimlambrt/gldap"
)

// gldap v0.1.14 keeps each request's network connection to itself: a
// handler cannot see the client's address, whether the connection is TLS,
// or close it, and gldap has no idle timeout or connection limit
// (libraries.md §1.1, §1.6). We read the connection out of the request
// (Request.conn.netConn) by reflection, once per connection, and build those
// features on it. The field layout is checked when the package loads; if a
// gldap upgrade changes it, netConnOf returns nil and the frontend runs
// without them (and TestNetConnAccessor fails).
//
// Data races: gldap writes netConn only when the connection is created and
// in Request.StartTLS, which our StartTLS handler calls on the connection's
// own goroutine after making sure that no other request of the connection
// has read it (see registry.register).

var (
	reqConnField  reflect.StructField // Request.conn (*gldap.conn)
	connNetField  reflect.StructField // conn.netConn (net.Conn)
	netConnUsable bool
)

func init() {
	rt := reflect.TypeOf(gldap.Request{})
	f, ok := rt.FieldByName("conn")
	if !ok || f.Type.Kind() != reflect.Pointer || f.Type.Elem().Kind() != reflect.Struct {
		return
	}
	nf, ok := f.Type.Elem().FieldByName("netConn")
	if !ok || nf.Type != reflect.TypeOf((*net.Conn)(nil)).Elem() {
		return
	}
	reqConnField, connNetField, netConnUsable = f, nf, true
}

// netConnOf returns the network connection of r, or nil when gldap's
// layout is not the one we know.
func netConnOf(r *gldap.Request) net.Conn {
	if !netConnUsable || r == nil {
		return nil
	}
	connPtr := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(r), reqConnField.Offset))
	if connPtr == nil {
		return nil
	}
	return *(*net.Conn)(unsafe.Add(connPtr, connNetField.Offset))
}
