package rxws

import (
	"reflect"
	"slices"
	"unsafe"
)

// clone returns r with a deep copy of its payload: what processors may
// change in place is then the copy's. Send clones in the caller's goroutine,
// so that once Send returns, whatever it returns, no goroutine of the
// manager still reads the caller's payload.
func (r Request) clone() Request {
	var stack [8]unsafe.Pointer
	r.Payload = deepCopy(r.Payload, stack[:0])
	return r
}

// deepCopy copies v so that the copy shares nothing a processor could
// change with v: maps, slices, arrays, pointers, interfaces and the
// exported fields of structs are copied all the way down. Unexported fields
// are copied as they are (a processor outside the type's package cannot
// reach them, and encoding/json ignores them); channels and funcs are
// shared, as JSON cannot encode them anyway. A nil map or slice stays nil
// and an empty one stays empty, so that the copy encodes as v does.
//
// path holds the maps, slices and pointers being copied, outermost first.
// One met again on its own path is a cycle: it is kept, not copied, so that
// deepCopy ends and the codec reports the cycle as it would for v.
func deepCopy(v any, path []unsafe.Pointer) any {
	// The shapes of decoded and hand-built JSON, without reflection.
	switch x := v.(type) {
	case nil, string, bool, float64, int, int64:
		return v
	case map[string]any:
		if x == nil {
			return x
		}
		p := *(*unsafe.Pointer)(unsafe.Pointer(&x))
		if onPath(path, p) {
			return x
		}
		path = append(path, p)
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e, path)
		}
		return m
	case []any:
		if len(x) == 0 {
			return slices.Clone(x)
		}
		p := unsafe.Pointer(unsafe.SliceData(x))
		if onPath(path, p) {
			return x
		}
		path = append(path, p)
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
func copyValue(v reflect.Value, path []unsafe.Pointer) reflect.Value {
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
		if v.IsNil() || onPath(path, v.UnsafePointer()) {
			return v
		}
		n := reflect.New(t.Elem())
		n.Elem().Set(copyValue(v.Elem(), append(path, v.UnsafePointer())))
		return n
	case reflect.Map:
		if v.IsNil() || onPath(path, v.UnsafePointer()) {
			return v
		}
		path = append(path, v.UnsafePointer())
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
		if onPath(path, v.UnsafePointer()) {
			return v
		}
		if copyable(t.Elem()) {
			reflect.Copy(n, v)
			return n
		}
		path = append(path, v.UnsafePointer())
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
		n.Set(v) // unexported fields too, as they are
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				n.Field(i).Set(copyValue(v.Field(i), path))
			}
		}
		return n
	}
	return v
}

func onPath(path []unsafe.Pointer, p unsafe.Pointer) bool {
	for _, q := range path {
		if q == p {
			return true
		}
	}
	return false
}
