package webdav

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadIf: an If header that does not follow RFC 4918 10.4 (400).
var ErrBadIf = errors.New("bad If header")

// maxIfConditions bounds the conditions of one If header, so evaluating
// it stays cheap.
const maxIfConditions = 64

// ifCondition is one condition of a list: a state token (lock token) or
// an entity tag, possibly negated.
type ifCondition struct {
	Not   bool
	Token string // the Coded-URL without its angle brackets, or ""
	ETag  string // the entity tag with its quotes (and W/), or ""
}

// ifList is one parenthesised list; Tag is the resource it is about
// (empty: the request URL).
type ifList struct {
	Tag   string
	Conds []ifCondition
}

// parseIf reads an If header (RFC 4918 10.4): either untagged lists
// "(…) (…)" or tagged lists "<url> (…) <url2> (…)", never both.
func parseIf(h string) ([]ifList, error) {
	bad := func(why string) ([]ifList, error) {
		return nil, fmt.Errorf("%w: %s", ErrBadIf, why)
	}
	var lists []ifList
	tag, tagged, n := "", 0, 0
	s := h
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		switch s[0] {
		case '<':
			end := strings.IndexByte(s, '>')
			if end < 0 {
				return bad("unterminated resource tag")
			}
			if tagged == 0 && len(lists) > 0 {
				return bad("a tag after untagged lists")
			}
			tag, tagged = s[1:end], 1
			if tag == "" {
				return bad("empty resource tag")
			}
			s = s[end+1:]
			if t := strings.TrimLeft(s, " \t"); t == "" || t[0] != '(' {
				return bad("a resource tag without a list")
			}
		case '(':
			if tagged == 0 && tag != "" {
				return bad("mixed lists")
			}
			l := ifList{Tag: tag}
			s = s[1:]
			for {
				s = strings.TrimLeft(s, " \t")
				if s == "" {
					return bad("unterminated list")
				}
				if s[0] == ')' {
					s = s[1:]
					break
				}
				var c ifCondition
				if len(s) >= 3 && strings.EqualFold(s[:3], "not") {
					c.Not = true
					s = strings.TrimLeft(s[3:], " \t")
				}
				if s == "" {
					return bad("unterminated list")
				}
				switch s[0] {
				case '<':
					end := strings.IndexByte(s, '>')
					if end < 0 {
						return bad("unterminated state token")
					}
					c.Token = s[1:end]
					if c.Token == "" {
						return bad("empty state token")
					}
					s = s[end+1:]
				case '[':
					end := strings.IndexByte(s, ']')
					if end < 0 {
						return bad("unterminated entity tag")
					}
					c.ETag = s[1:end]
					if !validETag(c.ETag) {
						return bad("malformed entity tag")
					}
					s = s[end+1:]
				default:
					return bad(fmt.Sprintf("unexpected %q in a list", s[0]))
				}
				if n++; n > maxIfConditions {
					return bad(fmt.Sprintf("more than %d conditions", maxIfConditions))
				}
				l.Conds = append(l.Conds, c)
			}
			if len(l.Conds) == 0 {
				return bad("empty list")
			}
			lists = append(lists, l)
		default:
			return bad(fmt.Sprintf("unexpected %q", s[0]))
		}
	}
	if len(lists) == 0 {
		return bad("no list")
	}
	return lists, nil
}

// validETag accepts "opaque" and W/"opaque".
func validETag(e string) bool {
	e = strings.TrimPrefix(e, "W/")
	return len(e) >= 2 && e[0] == '"' && e[len(e)-1] == '"' && !strings.Contains(e[1:len(e)-1], `"`)
}

// etagMatch compares entity tags weakly (the If header's rule for
// state-matching, RFC 4918 10.4.8 allows strong only, but clients send
// what they were given, and a weak tag is never given out for content).
func etagMatch(a, b string) bool {
	return a != "" && b != "" && strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

// ifState is what a list's conditions are checked against: the
// resource's current entity tag ("" when it does not exist or has none)
// and the tokens of the locks that cover it.
type ifState struct {
	ETag   string
	Tokens []string
}

// evalIf evaluates lists: true when at least one list holds entirely.
// state returns the state of a list's resource (its Tag, "" for the
// request URL). It returns the lock tokens of the lists that held: the
// tokens the client submitted.
func evalIf(lists []ifList, state func(tag string) (ifState, error)) (bool, []string, error) {
	cache := map[string]ifState{}
	ok := false
	var submitted []string
	for _, l := range lists {
		st, seen := cache[l.Tag]
		if !seen {
			var err error
			if st, err = state(l.Tag); err != nil {
				return false, nil, err
			}
			cache[l.Tag] = st
		}
		holds := true
		for _, c := range l.Conds {
			var v bool
			if c.Token != "" {
				for _, t := range st.Tokens {
					if t == c.Token {
						v = true
						break
					}
				}
			} else {
				v = etagMatch(c.ETag, st.ETag)
			}
			if v == c.Not {
				holds = false
				break
			}
		}
		if holds {
			ok = true
			for _, c := range l.Conds {
				if c.Token != "" && !c.Not {
					submitted = append(submitted, c.Token)
				}
			}
		}
	}
	return ok, submitted, nil
}
