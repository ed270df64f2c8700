package classify

import (
	"fmt"
	"strings"
	"testing"
)

func TestTrie_Scan(t *testing.T) {
	tz := tokenizer{}
	tr := newTrie()
	phrases := []string{"log in", "login", "reset password", "password", "{n} seconds", "cancel subscription", "not a",
		"it would be", "would be nice"}
	for i, p := range phrases {
		tr.insert(tz.phraseTokens(p)).payload = int32(i)
	}
	tests := []struct {
		text string
		want string // matched phrases in order
	}{
		{"I can't log in", "log in"},
		{"blogging about logins", "login"},
		{"Please reset my password", "reset password"},
		{"the password", "password"},
		{"it takes 45 seconds, or 3,000 seconds", "{n} seconds,{n} seconds"},
		{"seconds", ""},
		{"cancel our subscription, cancel the subscription", "cancel subscription,cancel subscription"},
		{"the cancel", ""},
		{"log. in", ""},
		{"it is not a bug", "not a"},
		{"it is not my bug", ""},
		{"it would be nice to have", "it would be,would be nice"},
		{"reset the password, then the password", "reset password,password"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			var got []string
			for _, m := range tr.scan(nil, tz.tokens(nil, tt.text)) {
				got = append(got, phrases[m.payload])
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("got %q, want %q", strings.Join(got, ","), tt.want)
			}
		})
	}
}

func TestNegator_Mark(t *testing.T) {
	g := newNegator(Negation{
		Scope:       4,
		Cues:        []string{"no", "not", "nothing", "do not have"},
		Verbal:      []string{"can not", "does not", "is not"},
		Pseudo:      []string{"no longer", "no one"},
		Terminators: []string{"but", "however"},
	})
	tests := []struct {
		text   string
		verbal bool
		want   string // negated tokens marked with ~
	}{
		{"no problem with billing but the export crashes", false, "no ~problem ~with ~bill but the export crash"},
		{"no problem with the charge itself, the invoice", false, "no ~problem ~with ~the ~charg itself | the invoic"},
		{"i can not log in", false, "i can not log in"},
		{"i can not log in", true, "i can not ~log ~in"},
		{"it is not urgent", false, "it is not urgent"},
		{"it is not urgent", true, "it is not ~urgent"},
		{"no one can log in", false, "no one can log in"},
		{"i do not have a vulnerability", false, "i do not hav ~a ~vulnerability"},
		{"nothing not urgent", false, "nothing not ~urgent"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/verbal=%v", tt.text, tt.verbal), func(t *testing.T) {
			toks := tokenizer{}.tokens(nil, tt.text)
			neg := make([]bool, len(toks))
			g.mark(neg, toks, tt.verbal)
			var b strings.Builder
			for i, tok := range toks {
				if i > 0 {
					b.WriteByte(' ')
				}
				if neg[i] {
					b.WriteByte('~')
				}
				b.WriteString(tok)
			}
			if b.String() != tt.want {
				t.Errorf("got %q, want %q", b.String(), tt.want)
			}
		})
	}
}
