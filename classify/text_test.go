package classify

import (
	"strings"
	"testing"
)

func TestTokenizer_Tokens(t *testing.T) {
	tests := []struct {
		in   string
		want string // tokens joined by spaces; | ends a clause, |. a sentence, |? a question
	}{
		{"Can't log in", "can not log in"},
		{"cant login, doesnt work, does not work", "can not login | doe not work | doe not work"},
		{"I cannot sign in", "i can not sign in"},
		{"We're locked out; it's urgent!", "we are lock out | it is urgent |."},
		{"Is it down? Please check.", "is it down |? pleas check |."},
		{"Why?! Fix it, now.", "why |? fix it | now |."},
		{"Shopify's connector", "shopify connector"},
		{"Rien d'urgent", "rien urgent"},
		{"Contraseña INCORRECTA", "contrasena incorrecta"},
		{"Größe ändern", "gross andern"},
		{"'Export to CSV' does nothing", "export to csv doe nothing"},
		{"“Quoted” text", "quot | text"},
		{"crashes crashed crashing", "crash crash crash"},
		{"logged logging login blogging", "log log login blog"},
		{"charges invoices queries", "charg invoic query"},
		{"settings morning", "setting morning"},
		{"cancelled travelling", "cancel travel"},
		{"3,000 cards in 2.5 s", "3000 card in 25 s"},
		{"version 3.2.0 of the sdk", "version 320 of the sdk"},
		{"e.novak@posteo.de wrote", "e novak posteo de wrot"},
		{"line one\nline two", "lin one |. lin two"},
		{"two-factor sign-in", "two factor sign in"},
		{"really very slow", "slow"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := strings.Join(tokenizer{}.tokens(nil, tt.in), " ")
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTokenizer_PhraseTokens(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"{n} seconds", "{n} second"},
		{"takes {n} minutes", "tak {n} minut"},
		{"log in", "log in"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := strings.Join(tokenizer{}.phraseTokens(tt.in), " "); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStem(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"log", "log"}, {"logs", "log"}, {"logged", "log"}, {"logging", "log"},
		{"access", "access"}, {"status", "status"}, {"analysis", "analysis"},
		{"companies", "company"}, {"tried", "try"}, {"need", "need"}, {"speed", "speed"},
		{"billing", "bill"}, {"filled", "fill"}, {"passes", "pass"},
		{"price", "pric"}, {"pricing", "pric"}, {"fee", "fee"}, {"fees", "fee"},
		{"string", "string"}, {"sing", "sing"}, {"2fa", "2fa"}, {"contraseña", "contraseña"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := stem(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
