package weights

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// A restricted unpickler: just enough of Python's pickle machine to rebuild the state dict
// that torch.save writes (protocol 2, plus the protocol 3-5 opcodes such a dict may hold).
// Nothing is executed. GLOBAL resolves only the names in allowedGlobals, each of which
// builds an inert Go value here; any other opcode or global is an error naming its offset.
// The opcode reference is Python's Lib/pickletools.py.

// MaxPickleSize caps the data.pkl record of a PyTorch checkpoint (100 MiB, as MaxHeaderSize
// caps a safetensors header). The state dict of a 70-billion-parameter model is a few MB.
const MaxPickleSize = 100 << 20

// Limits on the pickle machine. Each is far above what torch.save writes for a state dict
// (stack: one batch of 1000 items; marks: 3 deep; memo: 8 entries per tensor) and keeps a
// hostile pickle from building more than a bounded amount of structure.
const (
	maxPickleStack = 1 << 20 // values on the stack
	maxPickleMarks = 64      // open MARKs (nesting depth of tuples/lists being built)
	maxPickleMemo  = 1 << 22 // memo entries
	maxPickleDims  = 64      // dimensions of a tensor
)

// Pickle opcodes (pickletools names). The ones the machine runs are listed in run; the rest
// are named only so that errors can say which opcode was refused.
const (
	opMark            = '('
	opStop            = '.'
	opBinInt          = 'J'
	opBinInt1         = 'K'
	opBinInt2         = 'M'
	opNone            = 'N'
	opBinPersID       = 'Q'
	opReduce          = 'R'
	opBinUnicode      = 'X'
	opAppend          = 'a'
	opBuild           = 'b'
	opGlobal          = 'c'
	opAppends         = 'e'
	opBinGet          = 'h'
	opLongBinGet      = 'j'
	opEmptyList       = ']'
	opBinPut          = 'q'
	opLongBinPut      = 'r'
	opSetItem         = 's'
	opTuple           = 't'
	opSetItems        = 'u'
	opEmptyDict       = '}'
	opEmptyTuple      = ')'
	opBinFloat        = 'G'
	opProto           = 0x80
	opTuple1          = 0x85
	opTuple2          = 0x86
	opTuple3          = 0x87
	opNewTrue         = 0x88
	opNewFalse        = 0x89
	opLong1           = 0x8a
	opShortBinUnicode = 0x8c
	opBinUnicode8     = 0x8d
	opStackGlobal     = 0x93
	opMemoize         = 0x94
	opFrame           = 0x95
)

// opNames names every pickle opcode, for error messages.
var opNames = map[byte]string{
	'(': "MARK", '.': "STOP", '0': "POP", '1': "POP_MARK", '2': "DUP", 'F': "FLOAT", 'I': "INT",
	'J': "BININT", 'K': "BININT1", 'L': "LONG", 'M': "BININT2", 'N': "NONE", 'P': "PERSID",
	'Q': "BINPERSID", 'R': "REDUCE", 'S': "STRING", 'T': "BINSTRING", 'U': "SHORT_BINSTRING",
	'V': "UNICODE", 'X': "BINUNICODE", 'a': "APPEND", 'b': "BUILD", 'c': "GLOBAL", 'd': "DICT",
	'}': "EMPTY_DICT", 'e': "APPENDS", 'g': "GET", 'h': "BINGET", 'i': "INST", 'j': "LONG_BINGET",
	'l': "LIST", ']': "EMPTY_LIST", 'o': "OBJ", 'p': "PUT", 'q': "BINPUT", 'r': "LONG_BINPUT",
	's': "SETITEM", 't': "TUPLE", ')': "EMPTY_TUPLE", 'u': "SETITEMS", 'G': "BINFLOAT",
	0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1",
	0x86: "TUPLE2", 0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8a: "LONG1", 0x8b: "LONG4",
	'B': "BINBYTES", 'C': "SHORT_BINBYTES",
	0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8", 0x8e: "BINBYTES8", 0x8f: "EMPTY_SET",
	0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE",
	0x95: "FRAME", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
}

func opName(op byte) string {
	if n, ok := opNames[op]; ok {
		return n
	}
	return fmt.Sprintf("0x%02x (not a pickle opcode)", op)
}

// Values on the pickle stack. Python ints are int64 (wider ones are refused), floats
// float64, str string, bool bool, None nil.
type (
	pyTuple []any
	pyList  struct{ items []any }
	// pyDict keeps its items in insertion order; a repeated key keeps its first position
	// and takes the new value, as in Python.
	pyDict struct {
		keys  []any // string or int64
		vals  []any
		index map[any]int
	}
	// pyGlobal is an allowed global that GLOBAL or STACK_GLOBAL resolved.
	pyGlobal struct {
		name  string // "module.qualname"
		kind  globalKind
		dtype DType // for storage types
	}
	// pyStorage is a storage that a persistent id names: data/<key> of the archive, numel
	// elements of dtype.
	pyStorage struct {
		dtype DType
		key   string
		numel int64
	}
	// pyTensor is what _rebuild_tensor_v2 rebuilds: a view of a storage. Contiguity is
	// checked when it is built, so only the offset and the shape remain.
	pyTensor struct {
		storage *pyStorage
		offset  int64 // in elements
		shape   []int
	}
)

type globalKind int

const (
	globalOrderedDict globalKind = iota + 1
	globalRebuildTensorV2
	globalRebuildTensor
	globalRebuildParameter
	globalStorageType
)

// allowedGlobals is everything GLOBAL may name. torch.storage._load_from_bytes, every
// builtins/os/subprocess name and everything else is refused.
var allowedGlobals = map[string]pyGlobal{
	"collections.OrderedDict":         {kind: globalOrderedDict},
	"torch._utils._rebuild_tensor_v2": {kind: globalRebuildTensorV2},
	"torch._utils._rebuild_tensor":    {kind: globalRebuildTensor},
	"torch._utils._rebuild_parameter": {kind: globalRebuildParameter},
	"torch.FloatStorage":              {kind: globalStorageType, dtype: F32},
	"torch.HalfStorage":               {kind: globalStorageType, dtype: F16},
	"torch.BFloat16Storage":           {kind: globalStorageType, dtype: BF16},
	"torch.DoubleStorage":             {kind: globalStorageType, dtype: F64},
	"torch.LongStorage":               {kind: globalStorageType, dtype: I64},
	"torch.IntStorage":                {kind: globalStorageType, dtype: I32},
	"torch.ShortStorage":              {kind: globalStorageType, dtype: I16},
	"torch.CharStorage":               {kind: globalStorageType, dtype: I8},
	"torch.ByteStorage":               {kind: globalStorageType, dtype: U8},
	"torch.BoolStorage":               {kind: globalStorageType, dtype: Bool},
	"torch.ComplexFloatStorage":       {kind: globalStorageType, dtype: C64},
}

// pyTypeName names the Python type of a stack value, for error messages. (Values are never
// printed: a hostile pickle can make them cyclic or huge.)
func pyTypeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case pyGlobal:
		return v.name
	case *pyStorage:
		return "storage"
	case *pyTensor:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

// unpickler is the state of one run.
type unpickler struct {
	b     []byte
	pos   int // next byte to read
	op    byte
	opPos int // offset of the opcode being run
	stack []any
	marks []int // stack lengths at each open MARK
	memo  map[uint32]any
	// storages interns persistent ids by key: one storage, however many tensors view it.
	storages map[string]*pyStorage
}

// errorf reports a problem with the current opcode.
func (u *unpickler) errorf(format string, a ...any) error {
	return fmt.Errorf("offset %d: %s: %s", u.opPos, opName(u.op), fmt.Sprintf(format, a...))
}

// unpickle runs the pickle in b and returns the value STOP leaves, with the storages it
// names (by key).
func unpickle(b []byte) (any, map[string]*pyStorage, error) {
	u := &unpickler{b: b, memo: map[uint32]any{}, storages: map[string]*pyStorage{}}
	v, err := u.run()
	return v, u.storages, err
}

// take consumes n bytes; n was checked against len(b) by the caller or is checked here.
func (u *unpickler) take(n int) ([]byte, error) {
	if n < 0 || n > len(u.b)-u.pos {
		return nil, u.errorf("needs %d bytes, %d left", n, len(u.b)-u.pos)
	}
	s := u.b[u.pos : u.pos+n]
	u.pos += n
	return s, nil
}

func (u *unpickler) push(v any) error {
	if len(u.stack) >= maxPickleStack {
		return u.errorf("stack exceeds %d values", maxPickleStack)
	}
	u.stack = append(u.stack, v)
	return nil
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1]) {
		return nil, u.errorf("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1]) {
		return nil, u.errorf("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the values pushed since the last MARK and removes them and the mark.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, u.errorf("no MARK to pop to")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := u.stack[m:]
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) memoPut(idx uint32) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	if _, ok := u.memo[idx]; !ok && len(u.memo) >= maxPickleMemo {
		return u.errorf("memo exceeds %d entries", maxPickleMemo)
	}
	u.memo[idx] = v
	return nil
}

func (u *unpickler) memoGet(idx uint32) error {
	v, ok := u.memo[idx]
	if !ok {
		return u.errorf("memo index %d was never stored", idx)
	}
	return u.push(v)
}

// str checks that a pickled str is valid UTF-8 (what Python's decoder demands, lone
// surrogates apart).
func (u *unpickler) str(s []byte) (string, error) {
	if !utf8.Valid(s) {
		return "", u.errorf("string is not valid UTF-8")
	}
	return string(s), nil
}

// global resolves module.name against allowedGlobals.
func (u *unpickler) global(module, name string) (pyGlobal, error) {
	full := module + "." + name
	g, ok := allowedGlobals[full]
	if !ok {
		return g, u.errorf("global %s is not allowed (a PyTorch checkpoint may reference only tensor rebuilders, storage types and collections.OrderedDict)", quoteShort(full))
	}
	g.name = full
	return g, nil
}

// quoteShort quotes s, cut to 80 bytes, for messages about hostile input.
func quoteShort(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%q...", s[:80])
	}
	return fmt.Sprintf("%q", s)
}

// run is the pickle machine's loop.
func (u *unpickler) run() (any, error) {
	for u.pos < len(u.b) {
		u.opPos, u.op = u.pos, u.b[u.pos]
		u.pos++
		var err error
		switch u.op {
		case opProto:
			var p []byte
			if p, err = u.take(1); err == nil && p[0] > 5 {
				err = u.errorf("protocol %d is newer than 5", p[0])
			}
		case opFrame: // a buffering hint: the frame's bytes follow inline
			var p []byte
			if p, err = u.take(8); err == nil && binary.LittleEndian.Uint64(p) > uint64(len(u.b)-u.pos) {
				err = u.errorf("frame of %d bytes runs past the end (%d left)", binary.LittleEndian.Uint64(p), len(u.b)-u.pos)
			}
		case opStop:
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			if len(u.marks) > 0 {
				return nil, u.errorf("%d MARKs left open", len(u.marks))
			}
			return v, nil

		case opMark:
			if len(u.marks) >= maxPickleMarks {
				return nil, u.errorf("more than %d nested MARKs", maxPickleMarks)
			}
			u.marks = append(u.marks, len(u.stack))
		case opEmptyDict:
			err = u.push(&pyDict{})
		case opEmptyList:
			err = u.push(&pyList{})
		case opEmptyTuple:
			err = u.push(pyTuple{})
		case opNone:
			err = u.push(nil)
		case opNewTrue:
			err = u.push(true)
		case opNewFalse:
			err = u.push(false)

		case opBinInt:
			var p []byte
			if p, err = u.take(4); err == nil {
				err = u.push(int64(int32(binary.LittleEndian.Uint32(p))))
			}
		case opBinInt1:
			var p []byte
			if p, err = u.take(1); err == nil {
				err = u.push(int64(p[0]))
			}
		case opBinInt2:
			var p []byte
			if p, err = u.take(2); err == nil {
				err = u.push(int64(binary.LittleEndian.Uint16(p)))
			}
		case opLong1:
			err = u.long1()
		case opBinFloat:
			var p []byte
			if p, err = u.take(8); err == nil {
				err = u.push(math.Float64frombits(binary.BigEndian.Uint64(p)))
			}

		case opBinUnicode, opShortBinUnicode, opBinUnicode8:
			err = u.unicode()

		case opTuple:
			var items []any
			if items, err = u.popMark(); err == nil {
				err = u.push(pyTuple(append([]any(nil), items...)))
			}
		case opTuple1, opTuple2, opTuple3:
			n := int(u.op-opTuple1) + 1
			t := make(pyTuple, n)
			for i := n - 1; i >= 0 && err == nil; i-- {
				t[i], err = u.pop()
			}
			if err == nil {
				err = u.push(t)
			}
		case opAppend, opAppends:
			err = u.appends()
		case opSetItem, opSetItems:
			err = u.setItems()

		case opBinPut:
			var p []byte
			if p, err = u.take(1); err == nil {
				err = u.memoPut(uint32(p[0]))
			}
		case opLongBinPut:
			var p []byte
			if p, err = u.take(4); err == nil {
				err = u.memoPut(binary.LittleEndian.Uint32(p))
			}
		case opMemoize:
			err = u.memoPut(uint32(len(u.memo)))
		case opBinGet:
			var p []byte
			if p, err = u.take(1); err == nil {
				err = u.memoGet(uint32(p[0]))
			}
		case opLongBinGet:
			var p []byte
			if p, err = u.take(4); err == nil {
				err = u.memoGet(binary.LittleEndian.Uint32(p))
			}

		case opGlobal:
			err = u.globalOp()
		case opStackGlobal:
			err = u.stackGlobal()
		case opReduce:
			err = u.reduce()
		case opBinPersID:
			err = u.persistentID()
		case opBuild:
			err = u.build()

		default:
			return nil, u.errorf("opcode not allowed in a PyTorch state dict")
		}
		if err != nil {
			return nil, err
		}
	}
	u.opPos, u.op = u.pos, opStop
	return nil, u.errorf("pickle ends without STOP")
}

// long1 reads LONG1: a length byte, then that many bytes of little-endian two's complement.
func (u *unpickler) long1() error {
	p, err := u.take(1)
	if err != nil {
		return err
	}
	n := int(p[0])
	if n > 8 {
		return u.errorf("%d-byte integer does not fit in int64", n)
	}
	v, err := u.take(n)
	if err != nil {
		return err
	}
	var x uint64
	for i := n - 1; i >= 0; i-- {
		x = x<<8 | uint64(v[i])
	}
	if n > 0 && n < 8 && v[n-1]&0x80 != 0 { // sign-extend
		x |= ^uint64(0) << (8 * n)
	}
	return u.push(int64(x))
}

// unicode reads BINUNICODE (4-byte length), SHORT_BINUNICODE (1) or BINUNICODE8 (8). The
// length is checked against the bytes left before anything is allocated.
func (u *unpickler) unicode() error {
	var n uint64
	switch u.op {
	case opShortBinUnicode:
		p, err := u.take(1)
		if err != nil {
			return err
		}
		n = uint64(p[0])
	case opBinUnicode:
		p, err := u.take(4)
		if err != nil {
			return err
		}
		n = uint64(binary.LittleEndian.Uint32(p))
	default:
		p, err := u.take(8)
		if err != nil {
			return err
		}
		n = binary.LittleEndian.Uint64(p)
	}
	if n > uint64(len(u.b)-u.pos) {
		return u.errorf("string of %d bytes runs past the end (%d left)", n, len(u.b)-u.pos)
	}
	p, _ := u.take(int(n))
	s, err := u.str(p)
	if err != nil {
		return err
	}
	return u.push(s)
}

// appends runs APPEND (one value) and APPENDS (the values since MARK) onto a list.
func (u *unpickler) appends() error {
	var items []any
	if u.op == opAppend {
		v, err := u.pop()
		if err != nil {
			return err
		}
		items = []any{v}
	} else {
		var err error
		if items, err = u.popMark(); err != nil {
			return err
		}
	}
	t, err := u.top()
	if err != nil {
		return err
	}
	l, ok := t.(*pyList)
	if !ok {
		return u.errorf("appends to a %s, not a list", pyTypeName(t))
	}
	l.items = append(l.items, items...)
	return nil
}

// setItems runs SETITEM (one pair) and SETITEMS (the pairs since MARK) on a dict. Keys must
// be str or int: nothing else appears in a state dict.
func (u *unpickler) setItems() error {
	var items []any
	if u.op == opSetItem {
		v, err := u.pop()
		if err != nil {
			return err
		}
		k, err := u.pop()
		if err != nil {
			return err
		}
		items = []any{k, v}
	} else {
		var err error
		if items, err = u.popMark(); err != nil {
			return err
		}
		if len(items)%2 != 0 {
			return u.errorf("odd number of values (%d) for key/value pairs", len(items))
		}
	}
	t, err := u.top()
	if err != nil {
		return err
	}
	d, ok := t.(*pyDict)
	if !ok {
		return u.errorf("sets items of a %s, not a dict", pyTypeName(t))
	}
	for i := 0; i < len(items); i += 2 {
		switch items[i].(type) {
		case string, int64:
		default:
			return u.errorf("dict key of type %s (want str or int)", pyTypeName(items[i]))
		}
		d.set(items[i], items[i+1])
	}
	return nil
}

func (d *pyDict) set(k, v any) {
	if d.index == nil {
		d.index = map[any]int{}
	}
	if i, ok := d.index[k]; ok {
		d.vals[i] = v
		return
	}
	d.index[k] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
}

// globalOp reads GLOBAL's two newline-terminated lines, module and name.
func (u *unpickler) globalOp() error {
	line := func() (string, error) {
		rest := u.b[u.pos:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return "", u.errorf("unterminated module or name")
		}
		u.pos += i + 1
		return u.str(rest[:i])
	}
	module, err := line()
	if err != nil {
		return err
	}
	name, err := line()
	if err != nil {
		return err
	}
	g, err := u.global(module, name)
	if err != nil {
		return err
	}
	return u.push(g)
}

// stackGlobal runs STACK_GLOBAL: module and name are the two str values on the stack.
func (u *unpickler) stackGlobal() error {
	name, err := u.pop()
	if err != nil {
		return err
	}
	module, err := u.pop()
	if err != nil {
		return err
	}
	m, ok1 := module.(string)
	n, ok2 := name.(string)
	if !ok1 || !ok2 {
		return u.errorf("module and name are %s and %s, not str", pyTypeName(module), pyTypeName(name))
	}
	g, err := u.global(m, n)
	if err != nil {
		return err
	}
	return u.push(g)
}

// persistentID runs BINPERSID: torch.save replaces every storage by the tuple
// ('storage', storage_type, key, location, numel); the storage's bytes are data/<key>.
func (u *unpickler) persistentID() error {
	v, err := u.pop()
	if err != nil {
		return err
	}
	pid, ok := v.(pyTuple)
	if !ok || len(pid) != 5 {
		return u.errorf("persistent id is a %s, want ('storage', type, key, location, numel)", pyTypeName(v))
	}
	if tag, _ := pid[0].(string); tag != "storage" {
		return u.errorf("persistent id does not start with 'storage'")
	}
	g, ok := pid[1].(pyGlobal)
	if !ok || g.kind != globalStorageType {
		return u.errorf("persistent id storage type is %s, not a torch storage type", pyTypeName(pid[1]))
	}
	key, ok := pid[2].(string)
	if !ok || key == "" || strings.ContainsAny(key, "/\\") || key == "." || key == ".." {
		return u.errorf("persistent id key is not a plain record name")
	}
	if _, ok := pid[3].(string); !ok {
		return u.errorf("persistent id location is a %s, not str", pyTypeName(pid[3]))
	}
	numel, ok := pid[4].(int64)
	if !ok || numel < 0 {
		return u.errorf("persistent id numel is not a non-negative int")
	}
	if s, ok := u.storages[key]; ok {
		if s.dtype != g.dtype || s.numel != numel {
			return u.errorf("storage %q is named as %d %s elements and as %d %s elements", key, s.numel, s.dtype, numel, g.dtype)
		}
		return u.push(s)
	}
	s := &pyStorage{dtype: g.dtype, key: key, numel: numel}
	u.storages[key] = s
	return u.push(s)
}

// reduce runs REDUCE: calls an allowed global with a tuple of arguments.
func (u *unpickler) reduce() error {
	a, err := u.pop()
	if err != nil {
		return err
	}
	f, err := u.pop()
	if err != nil {
		return err
	}
	args, ok := a.(pyTuple)
	if !ok {
		return u.errorf("arguments are a %s, not a tuple", pyTypeName(a))
	}
	g, ok := f.(pyGlobal)
	if !ok {
		return u.errorf("calls a %s", pyTypeName(f))
	}
	var v any
	switch g.kind {
	case globalOrderedDict:
		if len(args) != 0 {
			return u.errorf("collections.OrderedDict called with %d arguments, want none", len(args))
		}
		v = &pyDict{}
	case globalRebuildTensorV2, globalRebuildTensor:
		v, err = u.rebuildTensor(g, args)
	case globalRebuildParameter:
		// _rebuild_parameter(data, requires_grad, backward_hooks): the tensor itself.
		if len(args) != 3 {
			return u.errorf("%s called with %d arguments, want 3", g.name, len(args))
		}
		t, ok := args[0].(*pyTensor)
		if !ok {
			return u.errorf("%s of a %s, not a tensor", g.name, pyTypeName(args[0]))
		}
		v = t
	default:
		return u.errorf("%s is not callable", g.name)
	}
	if err != nil {
		return err
	}
	return u.push(v)
}

// rebuildTensor checks the arguments of
//
//	_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
//	_rebuild_tensor(storage, storage_offset, size, stride)
//
// and builds the tensor: only a contiguous (row-major) view is accepted.
func (u *unpickler) rebuildTensor(g pyGlobal, args pyTuple) (*pyTensor, error) {
	switch {
	case g.kind == globalRebuildTensor && len(args) != 4,
		g.kind == globalRebuildTensorV2 && len(args) != 6 && len(args) != 7:
		return nil, u.errorf("%s called with %d arguments", g.name, len(args))
	}
	s, ok := args[0].(*pyStorage)
	if !ok {
		return nil, u.errorf("%s: storage is a %s", g.name, pyTypeName(args[0]))
	}
	off, ok := args[1].(int64)
	if !ok || off < 0 {
		return nil, u.errorf("%s: storage offset is not a non-negative int", g.name)
	}
	size, ok1 := args[2].(pyTuple)
	stride, ok2 := args[3].(pyTuple)
	if !ok1 || !ok2 {
		return nil, u.errorf("%s: size and stride are %s and %s, not tuples", g.name, pyTypeName(args[2]), pyTypeName(args[3]))
	}
	if len(size) != len(stride) || len(size) > maxPickleDims {
		return nil, u.errorf("%s: %d sizes and %d strides", g.name, len(size), len(stride))
	}
	if g.kind == globalRebuildTensorV2 {
		if _, ok := args[4].(bool); !ok {
			return nil, u.errorf("%s: requires_grad is a %s, not bool", g.name, pyTypeName(args[4]))
		}
		if _, ok := args[5].(*pyDict); !ok { // backward hooks: an OrderedDict, ignored
			return nil, u.errorf("%s: backward_hooks is a %s, not a dict", g.name, pyTypeName(args[5]))
		}
		if len(args) == 7 { // metadata dict (torch >= 2.0), ignored
			if _, ok := args[6].(*pyDict); !ok && args[6] != nil {
				return nil, u.errorf("%s: metadata is a %s, not a dict", g.name, pyTypeName(args[6]))
			}
		}
	}
	t := &pyTensor{storage: s, offset: off, shape: make([]int, len(size))}
	for i := range size {
		d, ok := size[i].(int64)
		if !ok || d < 0 || int64(int(d)) != d {
			return nil, u.errorf("%s: size[%d] is not a non-negative int", g.name, i)
		}
		if _, ok := stride[i].(int64); !ok {
			return nil, u.errorf("%s: stride[%d] is a %s, not int", g.name, i, pyTypeName(stride[i]))
		}
		t.shape[i] = int(d)
	}
	n, ok := numel(t.shape)
	if !ok {
		return nil, u.errorf("%s: size overflows", g.name)
	}
	// Contiguous as torch defines it: each dim of extent > 1 has stride = product of the
	// extents after it (a dim of extent 1, or an empty tensor, may have any stride).
	if n > 0 {
		want := int64(1)
		for i := len(size) - 1; i >= 0; i-- {
			if st := stride[i].(int64); t.shape[i] != 1 && st != want {
				return nil, u.errorf("%s: tensor of size %v with strides %v is not contiguous (only row-major tensors are supported; save t.contiguous())",
					g.name, t.shape, ints(stride))
			}
			want *= int64(t.shape[i]) // cannot overflow: the product n did not
		}
	}
	if off > s.numel || n > s.numel-off {
		return nil, u.errorf("%s: elements [%d, %d+%d) lie outside storage %q of %d elements", g.name, off, off, n, s.key, s.numel)
	}
	return t, nil
}

// ints lists the ints of a tuple known to hold only int64, for messages.
func ints(t pyTuple) []int64 {
	out := make([]int64, len(t))
	for i, v := range t {
		out[i], _ = v.(int64)
	}
	return out
}

// build runs BUILD: sets an object's state. The only object in a state dict that has one is
// the OrderedDict of an nn.Module's state_dict(), whose state ({'_metadata': ...}, module
// versions) is of no use here and is dropped.
func (u *unpickler) build() error {
	state, err := u.pop()
	if err != nil {
		return err
	}
	t, err := u.top()
	if err != nil {
		return err
	}
	if _, ok := t.(*pyDict); !ok {
		return u.errorf("sets the state of a %s (only a dict's state is accepted)", pyTypeName(t))
	}
	if _, ok := state.(*pyDict); !ok && state != nil {
		return u.errorf("dict state is a %s, not a dict", pyTypeName(state))
	}
	return nil
}
