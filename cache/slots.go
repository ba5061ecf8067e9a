package cache

import (
	"hash/maphash"
	"iter"
)

// The collector visits every pointer the store holds on every cycle, and a
// map keyed by strings is two pointers per entry (the key and, for records,
// the value) in memory it must scan. Records are therefore held in slot
// tables (one pointer each), and the indexes that find them map a 64-bit
// hash of the key to a slot: maps of integers, which the collector never
// scans. The key is not kept in the index; every lookup checks it against
// the record in the slot.

// hashIndex maps a string to a slot through its hash. keyOf returns the
// key of the record in a slot; a key whose hash another key already holds
// (never seen at 64 bits, but possible) goes to more, an ordinary map.
type hashIndex struct {
	h    map[uint64]int32
	more map[string]int32
}

var hashSeed = maphash.MakeSeed()

// hashKey hashes an index key; tests replace it to force collisions.
var hashKey = func(k string) uint64 { return maphash.String(hashSeed, k) }

func newHashIndex() hashIndex { return hashIndex{h: map[uint64]int32{}} }

func (x *hashIndex) get(k string, keyOf func(int32) string) (int32, bool) {
	if id, ok := x.more[k]; ok {
		return id, true
	}
	id, ok := x.h[hashKey(k)]
	if !ok || keyOf(id) != k {
		return -1, false
	}
	return id, true
}

// put makes k find slot id, replacing what k found before.
func (x *hashIndex) put(k string, id int32, keyOf func(int32) string) {
	if _, ok := x.more[k]; ok {
		x.more[k] = id
		return
	}
	h := hashKey(k)
	if o, ok := x.h[h]; ok && keyOf(o) != k {
		if x.more == nil {
			x.more = map[string]int32{}
		}
		x.more[k] = id
		return
	}
	x.h[h] = id
}

// del removes k, if it finds slot id. keyOf must still know the record
// in that slot.
func (x *hashIndex) del(k string, id int32, keyOf func(int32) string) {
	if o, ok := x.more[k]; ok {
		if o == id {
			delete(x.more, k)
		}
		return
	}
	h := hashKey(k)
	if o, ok := x.h[h]; ok && o == id && keyOf(o) == k {
		delete(x.h, h)
	}
}

// slotted is a record that a slot table can hold: userRec and groupRec.
type slotted interface {
	comparable
	recKey() string
	slotp() *int32 // where the record keeps its slot while stored
}

func (r *userRec) recKey() string  { return r.key() }
func (r *userRec) slotp() *int32   { return &r.id }
func (r *groupRec) recKey() string { return r.Key }
func (r *groupRec) slotp() *int32  { return &r.id }

// slotTable holds records in slots, found by key. A freed slot is reused
// by the next record stored; slots are only read under the store's lock.
type slotTable[R slotted] struct {
	slots []R
	free  []int32
	byKey hashIndex
}

func newSlotTable[R slotted]() slotTable[R] { return slotTable[R]{byKey: newHashIndex()} }

func (t *slotTable[R]) keyOf(id int32) string { return t.slots[id].recKey() }

// get returns the record with key, or the zero R.
func (t *slotTable[R]) get(key string) R {
	if id, ok := t.byKey.get(key, t.keyOf); ok {
		return t.slots[id]
	}
	var zero R
	return zero
}

func (t *slotTable[R]) len() int { return len(t.slots) - len(t.free) }

// put stores r, which must have a key no stored record has.
func (t *slotTable[R]) put(r R) {
	var id int32
	if n := len(t.free); n > 0 {
		id, t.free = t.free[n-1], t.free[:n-1]
		t.slots[id] = r
	} else {
		id = int32(len(t.slots))
		t.slots = append(t.slots, r)
	}
	*r.slotp() = id
	t.byKey.put(r.recKey(), id, t.keyOf)
}

// del frees r's slot; r must be stored.
func (t *slotTable[R]) del(r R) {
	id := *r.slotp()
	t.byKey.del(r.recKey(), id, t.keyOf)
	var zero R
	t.slots[id] = zero
	t.free = append(t.free, id)
}

// all yields every stored record with its key, in slot order.
func (t *slotTable[R]) all() iter.Seq2[string, R] {
	return func(yield func(string, R) bool) {
		var zero R
		for _, r := range t.slots {
			if r != zero && !yield(r.recKey(), r) {
				return
			}
		}
	}
}
