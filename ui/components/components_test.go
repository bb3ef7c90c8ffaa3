package components

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/a-h/templ"
)

func render(t *testing.T, c templ.Component) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestComponents(t *testing.T) {
	tests := []struct {
		name string
		c    templ.Component
		want []string
		not  []string
	}{
		{"input with error", Input(Field{ID: "pw", Name: "pw", Label: "Passwort", Hint: "lang", Error: "zu kurz", Type: "password"}),
			[]string{`<label for="pw">Passwort</label>`, `type="password"`, `aria-invalid="true"`, `aria-describedby="pw-hint pw-error"`, `id="pw-error"`}, nil},
		{"input without error", Input(Field{ID: "n", Name: "n", Label: "Name", Value: `"><script>`}),
			[]string{`value="&#34;&gt;&lt;script&gt;"`}, []string{"aria-invalid", "<script>", "aria-describedby"}},
		{"error flash is an alert", Flash(FlashError, "Fehler", "kaputt"), []string{`role="alert"`, "flash-error"}, nil},
		{"info flash is a status", Flash(FlashInfo, "Hinweis", "x"), []string{`role="status"`}, []string{"alert"}},
		{"badge", Badge(BadgeOK, "frei"), []string{`class="badge badge-ok"`, "frei"}, nil},
		{"busy button", Button("action", "next", "Weiter", false, true), []string{`data-busy`, `value="next"`, `class="btn"`}, nil},
		{"steps", Steps("Fortschritt", "Schritt 2 von 3", "erledigt", "jetzt", []Step{{"A", "/a"}, {"B", "/b"}, {"C", ""}}, 1),
			[]string{`class="done"><a href="/a">A</a>`, `aria-current="step"`, `<li class="todo">C</li>`}, nil},
		{"empty table", Table("Mandanten", []string{"Name"}, nil, "Keine Mandanten", "Legen Sie einen an."), []string{`class="empty"`, "Keine Mandanten"}, []string{"<table"}},
		{"table", Table("Mandanten", []string{"Name"}, [][]string{{"kanzlei-a"}}, "", ""), []string{"<caption>Mandanten</caption>", `<th scope="col">Name</th>`, "<td>kanzlei-a</td>"}, nil},
		{"progress", Progress("Prüfung", 3, 10), []string{`<progress class="progress" value="3" max="10">`}, nil},
		{"confirm", Confirm("/admin/tenants/x/delete", "tok", "Löschen", "Endgültig.", "Tippen Sie", "kanzlei-a", "Löschen"),
			[]string{`pattern="kanzlei-a"`, `name="csrf" value="tok"`, "btn-danger"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			html := render(t, tt.c)
			for _, w := range tt.want {
				if !strings.Contains(html, w) {
					t.Errorf("render lacks %q:\n%s", w, html)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(html, n) {
					t.Errorf("render has %q:\n%s", n, html)
				}
			}
		})
	}
}
