package tokenizer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// UnsupportedError names a tokenizer.json component this package does not implement.
type UnsupportedError struct {
	Kind, Type string // e.g. "normalizer", "BertNormalizer"
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("tokenizer: unsupported %s %q", e.Kind, e.Type)
}

type typed struct {
	Type string `json:"type"`
}

func isNull(raw []byte) bool { return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null" }

func unmarshal(raw []byte, where string, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return formatErr("%s: %v", where, err)
	}
	return nil
}

func componentType(raw []byte, where string) (string, error) {
	var t typed
	if err := unmarshal(raw, where, &t); err != nil {
		return "", err
	}
	if t.Type == "" {
		return "", formatErr("%s: missing \"type\"", where)
	}
	return t.Type, nil
}

func parseNormalizer(raw []byte, where string, depth int) (normalizer, error) {
	if depth > 8 {
		return nil, formatErr("%s: nested too deep", where)
	}
	typ, err := componentType(raw, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		var c struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := unmarshal(raw, where, &c); err != nil {
			return nil, err
		}
		var q seqNormalizer
		for i, r := range c.Normalizers {
			x, err := parseNormalizer(r, fmt.Sprintf("%s.normalizers[%d]", where, i), depth+1)
			if err != nil {
				return nil, err
			}
			q = append(q, x)
		}
		return q, nil
	case "Precompiled":
		var c struct {
			Charsmap *string `json:"precompiled_charsmap"`
		}
		if err := unmarshal(raw, where, &c); err != nil {
			return nil, err
		}
		if c.Charsmap == nil {
			return nil, formatErr("%s: missing precompiled_charsmap", where)
		}
		data, err := base64.StdEncoding.DecodeString(*c.Charsmap)
		if err != nil {
			return nil, formatErr("%s: precompiled_charsmap: %v", where, err)
		}
		m, err := parseCharsmap(data)
		if err != nil {
			return nil, err
		}
		return precompiled{m}, nil
	case "Strip":
		var c struct {
			Left  *bool `json:"strip_left"`
			Right *bool `json:"strip_right"`
		}
		if err := unmarshal(raw, where, &c); err != nil {
			return nil, err
		}
		if c.Left == nil || c.Right == nil {
			return nil, formatErr("%s: Strip needs strip_left and strip_right", where)
		}
		return strip{*c.Left, *c.Right}, nil
	case "Replace":
		var c struct {
			Pattern struct {
				String *string `json:"String"`
				Regex  *string `json:"Regex"`
			} `json:"pattern"`
			Content *string `json:"content"`
		}
		if err := unmarshal(raw, where, &c); err != nil {
			return nil, err
		}
		if c.Content == nil {
			return nil, formatErr("%s: Replace needs content", where)
		}
		r := replace{content: []byte(*c.Content)}
		switch {
		case c.Pattern.String != nil:
			r.literal = []byte(*c.Pattern.String)
		case c.Pattern.Regex != nil:
			re, err := regexp.Compile(*c.Pattern.Regex)
			if err != nil {
				return nil, formatErr("%s: Replace regex %q: %v", where, *c.Pattern.Regex, err)
			}
			r.re = re
		default:
			return nil, formatErr("%s: Replace needs pattern.String or pattern.Regex", where)
		}
		return r, nil
	case "NFC":
		return unicodeNorm{norm.NFC}, nil
	case "NFD":
		return unicodeNorm{norm.NFD}, nil
	case "NFKC":
		return unicodeNorm{norm.NFKC}, nil
	case "NFKD":
		return unicodeNorm{norm.NFKD}, nil
	case "Lowercase":
		return lowercase{}, nil
	}
	return nil, &UnsupportedError{"normalizer", typ}
}

// metaspaceConfig is shared by the Metaspace pre-tokenizer and decoder; both layouts are
// accepted: {prepend_scheme, split} (tokenizers >= 0.14) and {add_prefix_space} (older).
type metaspaceConfig struct {
	Replacement    *string `json:"replacement"`
	PrependScheme  *string `json:"prepend_scheme"`
	AddPrefixSpace *bool   `json:"add_prefix_space"`
	Split          *bool   `json:"split"`
}

func (c *metaspaceConfig) build(where string) (*metaspace, error) {
	if c.Replacement == nil {
		return nil, formatErr("%s: Metaspace needs replacement", where)
	}
	if utf8.RuneCountInString(*c.Replacement) != 1 {
		return nil, formatErr("%s: Metaspace replacement %q must be one character", where, *c.Replacement)
	}
	m := &metaspace{repl: []byte(*c.Replacement)}
	switch {
	case c.PrependScheme != nil:
		switch *c.PrependScheme {
		case "always":
			m.scheme = prependAlways
		case "first":
			m.scheme = prependFirst
		case "never":
			m.scheme = prependNever
		default:
			return nil, formatErr("%s: unknown prepend_scheme %q", where, *c.PrependScheme)
		}
	case c.AddPrefixSpace != nil:
		if !*c.AddPrefixSpace {
			m.scheme = prependNever
		}
	}
	if c.Split != nil {
		m.noSplit = !*c.Split
	}
	return m, nil
}

func parsePreTokenizer(raw []byte, where string, depth int) (preTokenizer, error) {
	if depth > 8 {
		return nil, formatErr("%s: nested too deep", where)
	}
	typ, err := componentType(raw, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		var c struct {
			PreTokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := unmarshal(raw, where, &c); err != nil {
			return nil, err
		}
		var q seqPreTokenizer
		for i, r := range c.PreTokenizers {
			x, err := parsePreTokenizer(r, fmt.Sprintf("%s.pretokenizers[%d]", where, i), depth+1)
			if err != nil {
				return nil, err
			}
			q = append(q, x)
		}
		return q, nil
	case "Metaspace":
		var c metaspaceConfig
		if err := unmarshal(raw, where, &c); err != nil {
			return nil, err
		}
		return c.build(where)
	case "WhitespaceSplit":
		return whitespaceSplit{}, nil
	}
	return nil, &UnsupportedError{"pre_tokenizer", typ}
}

// addedTokenConfig is one entry of "added_tokens".
type addedTokenConfig struct {
	ID         *int    `json:"id"`
	Content    *string `json:"content"`
	SingleWord bool    `json:"single_word"`
	LStrip     bool    `json:"lstrip"`
	RStrip     bool    `json:"rstrip"`
	Normalized bool    `json:"normalized"`
	Special    bool    `json:"special"`
}

// templatePiece is {"SpecialToken": {"id", "type_id"}} or {"Sequence": {"id", "type_id"}}.
type templatePiece struct {
	SpecialToken *struct {
		ID     string `json:"id"`
		TypeID int32  `json:"type_id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID     string `json:"id"`
		TypeID int32  `json:"type_id"`
	} `json:"Sequence"`
}

// tmplItem is a resolved template element: a sequence (seq 0 = A, 1 = B) or special ids.
type tmplItem struct {
	seq    int // 0, 1, or -1 for special tokens
	typeID int32
	ids    []int32
	tokens []string
}

// postProcessor is TemplateProcessing or RobertaProcessing, both as templates.
type postProcessor struct {
	single, pair []tmplItem
}

func (p *postProcessor) added(pair bool) int {
	t := p.single
	if pair {
		t = p.pair
	}
	n := 0
	for _, it := range t {
		n += len(it.ids)
	}
	return n
}

func parsePostProcessor(raw []byte, where string, vocabSize int) (*postProcessor, error) {
	typ, err := componentType(raw, where)
	if err != nil {
		return nil, err
	}
	checkID := func(id int) error {
		if id < 0 || id >= vocabSize {
			return formatErr("%s: special token id %d outside the vocabulary", where, id)
		}
		return nil
	}
	switch typ {
	case "TemplateProcessing":
		var c struct {
			Single        []templatePiece `json:"single"`
			Pair          []templatePiece `json:"pair"`
			SpecialTokens map[string]struct {
				ID     string   `json:"id"`
				IDs    []int    `json:"ids"`
				Tokens []string `json:"tokens"`
			} `json:"special_tokens"`
		}
		if err := unmarshal(raw, where, &c); err != nil {
			return nil, err
		}
		resolve := func(pieces []templatePiece, name string) ([]tmplItem, error) {
			var out []tmplItem
			for _, p := range pieces {
				switch {
				case p.Sequence != nil:
					switch p.Sequence.ID {
					case "A":
						out = append(out, tmplItem{seq: 0, typeID: p.Sequence.TypeID})
					case "B":
						out = append(out, tmplItem{seq: 1, typeID: p.Sequence.TypeID})
					default:
						return nil, formatErr("%s.%s: sequence id %q, want A or B", where, name, p.Sequence.ID)
					}
				case p.SpecialToken != nil:
					st, ok := c.SpecialTokens[p.SpecialToken.ID]
					if !ok {
						return nil, formatErr("%s.%s: special token %q not in special_tokens", where, name, p.SpecialToken.ID)
					}
					if len(st.IDs) != len(st.Tokens) {
						return nil, formatErr("%s: special token %q has %d ids and %d tokens", where, p.SpecialToken.ID, len(st.IDs), len(st.Tokens))
					}
					it := tmplItem{seq: -1, typeID: p.SpecialToken.TypeID, tokens: st.Tokens}
					for _, id := range st.IDs {
						if err := checkID(id); err != nil {
							return nil, err
						}
						it.ids = append(it.ids, int32(id))
					}
					out = append(out, it)
				default:
					return nil, formatErr("%s.%s: template piece is neither SpecialToken nor Sequence", where, name)
				}
			}
			return out, nil
		}
		p := &postProcessor{}
		if p.single, err = resolve(c.Single, "single"); err != nil {
			return nil, err
		}
		if p.pair, err = resolve(c.Pair, "pair"); err != nil {
			return nil, err
		}
		return p, nil
	case "RobertaProcessing":
		var c struct {
			Sep         *[2]json.RawMessage `json:"sep"`
			Cls         *[2]json.RawMessage `json:"cls"`
			TrimOffsets bool                `json:"trim_offsets"`
		}
		if err := unmarshal(raw, where, &c); err != nil {
			return nil, err
		}
		tok := func(r *[2]json.RawMessage, name string) (tmplItem, error) {
			if r == nil {
				return tmplItem{}, formatErr("%s: RobertaProcessing needs %s", where, name)
			}
			var s string
			var id int
			if err := unmarshal(r[0], where+"."+name, &s); err != nil {
				return tmplItem{}, err
			}
			if err := unmarshal(r[1], where+"."+name, &id); err != nil {
				return tmplItem{}, err
			}
			if err := checkID(id); err != nil {
				return tmplItem{}, err
			}
			return tmplItem{seq: -1, ids: []int32{int32(id)}, tokens: []string{s}}, nil
		}
		sep, err := tok(c.Sep, "sep")
		if err != nil {
			return nil, err
		}
		cls, err := tok(c.Cls, "cls")
		if err != nil {
			return nil, err
		}
		a, b := tmplItem{seq: 0}, tmplItem{seq: 1}
		return &postProcessor{
			single: []tmplItem{cls, a, sep},
			pair:   []tmplItem{cls, a, sep, sep, b, sep},
		}, nil
	}
	return nil, &UnsupportedError{"post_processor", typ}
}

// decoder is the Metaspace decoder (nil: tokens are concatenated).
func parseDecoder(raw []byte, where string) (*metaspace, error) {
	typ, err := componentType(raw, where)
	if err != nil {
		return nil, err
	}
	if typ != "Metaspace" {
		return nil, &UnsupportedError{"decoder", typ}
	}
	var c metaspaceConfig
	if err := unmarshal(raw, where, &c); err != nil {
		return nil, err
	}
	return c.build(where)
}
