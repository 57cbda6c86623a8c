package rxws

import (
	"reflect"
	"slices"
	"unsafe"
)

// clone returns r with a deep copy of its payload: what processors change
// in place is then the copy's. Send clones in the caller's goroutine, one
// copy per attempt.
func (r Request) clone() Request {
	var stack [8]visit
	r.Payload = deepCopy(r.Payload, stack[:0])
	return r
}

// visit is a map, slice or pointer being copied: its address and its type,
// since a pointer to a struct's first field, or to an array's first
// element, has the address of the struct or array; and a slice's length,
// since a shorter slice of the same array inside it (s[1] = s[:1]) is a
// tree, not a cycle, as encoding/json sees it too.
type visit struct {
	p unsafe.Pointer
	t reflect.Type
	n int
}

var (
	anyMapType   = reflect.TypeFor[map[string]any]()
	anySliceType = reflect.TypeFor[[]any]()
)

// deepCopy copies v so that the copy shares nothing a processor could
// change with v: maps, slices, arrays, pointers, interfaces, and the
// exported and embedded fields of structs are copied all the way down. The
// other unexported fields are copied as they are (encoding/json ignores
// them, and code outside their package reaches them only through methods);
// channels and funcs are shared, as JSON cannot encode them anyway. A nil
// map or slice stays nil and an empty one stays empty, so that the copy
// encodes as v does.
//
// path holds the values being copied, outermost first. One met again on its
// own path is a cycle: it is kept, not copied, so that deepCopy ends and the
// codec reports the cycle as it would for v.
func deepCopy(v any, path []visit) any {
	// The shapes of decoded and hand-built JSON, without reflection.
	switch x := v.(type) {
	case nil, string, bool, float64, int, int64:
		return v
	case map[string]any:
		if x == nil {
			return x
		}
		at := visit{*(*unsafe.Pointer)(unsafe.Pointer(&x)), anyMapType, 0}
		if slices.Contains(path, at) {
			return x
		}
		path = append(path, at)
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e, path)
		}
		return m
	case []any:
		if len(x) == 0 {
			return slices.Clone(x)
		}
		at := visit{unsafe.Pointer(unsafe.SliceData(x)), anySliceType, len(x)}
		if slices.Contains(path, at) {
			return x
		}
		path = append(path, at)
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e, path)
		}
		return s
	case []byte:
		return slices.Clone(x)
	}
	rv := reflect.ValueOf(v)
	if copyable(rv.Type()) {
		return v // held by value in the interface: nothing to share
	}
	return copyValue(rv, path).Interface()
}

// copyValue is deepCopy for any type, by reflection.
func copyValue(v reflect.Value, path []visit) reflect.Value {
	t := v.Type()
	if copyable(t) {
		return v
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		n := reflect.New(t).Elem()
		n.Set(copyValue(v.Elem(), path))
		return n
	case reflect.Pointer:
		at := visit{v.UnsafePointer(), t, 0}
		if v.IsNil() || slices.Contains(path, at) {
			return v
		}
		n := reflect.New(t.Elem())
		n.Elem().Set(copyValue(v.Elem(), append(path, at)))
		return n
	case reflect.Map:
		at := visit{v.UnsafePointer(), t, 0}
		if v.IsNil() || slices.Contains(path, at) {
			return v
		}
		path = append(path, at)
		n := reflect.MakeMapWithSize(t, v.Len())
		for it := v.MapRange(); it.Next(); {
			n.SetMapIndex(it.Key(), copyValue(it.Value(), path))
		}
		return n
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		n := reflect.MakeSlice(t, v.Len(), v.Len())
		if v.Len() == 0 {
			return n
		}
		at := visit{v.UnsafePointer(), t, v.Len()}
		if slices.Contains(path, at) {
			return v
		}
		if copyable(t.Elem()) {
			reflect.Copy(n, v)
			return n
		}
		path = append(path, at)
		for i := range v.Len() {
			n.Index(i).Set(copyValue(v.Index(i), path))
		}
		return n
	case reflect.Array:
		n := reflect.New(t).Elem()
		for i := range v.Len() {
			n.Index(i).Set(copyValue(v.Index(i), path))
		}
		return n
	case reflect.Struct:
		n := reflect.New(t).Elem()
		n.Set(v) // every field, as it is; then the reachable ones are copied
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() && !sf.Anonymous {
				continue
			}
			f := n.Field(i)
			if !sf.IsExported() {
				// An embedded struct of an unexported type: its exported
				// fields are promoted, so processors reach them. n is this
				// copy's own memory, so writing it this way is safe.
				f = reflect.NewAt(sf.Type, unsafe.Pointer(f.UnsafeAddr())).Elem()
			}
			f.Set(copyValue(f, path))
		}
		return n
	}
	return v
}
