package models

import (
	"strings"
	"testing"
)

func TestModel_Validate(t *testing.T) {
	good := File{Path: "config.json", Size: 3, SHA256: strings.Repeat("a", 64)}
	tests := []struct {
		name    string
		edit    func(m *Model)
		wantErr string
	}{
		{name: "valid", edit: func(m *Model) {}},
		{name: "id without org", edit: func(m *Model) { m.ID = "name" }, wantErr: `want "org/name"`},
		{name: "id climbing out", edit: func(m *Model) { m.ID = "../etc" }, wantErr: `want "org/name"`},
		{name: "id with three parts", edit: func(m *Model) { m.ID = "a/b/c" }, wantErr: `want "org/name"`},
		{name: "branch instead of commit", edit: func(m *Model) { m.Revision = "main" }, wantErr: "pin a commit"},
		{name: "no files", edit: func(m *Model) { m.Files = nil }, wantErr: "no files"},
		{name: "absolute path", edit: func(m *Model) { m.Files[0].Path = "/etc/passwd" }, wantErr: "must be relative"},
		{name: "path climbing out", edit: func(m *Model) { m.Files[0].Path = "../x" }, wantErr: "must be relative"},
		{name: "unclean path", edit: func(m *Model) { m.Files[0].Path = "a//b" }, wantErr: "must be relative"},
		{name: "manifest name", edit: func(m *Model) { m.Files[0].Path = manifestName }, wantErr: "reserved"},
		{name: "part suffix", edit: func(m *Model) { m.Files[0].Path = "x.part" }, wantErr: "reserved"},
		{name: "duplicate", edit: func(m *Model) { m.Files = append(m.Files, m.Files[0]) }, wantErr: "listed twice"},
		{name: "upper-case hash", edit: func(m *Model) { m.Files[0].SHA256 = strings.Repeat("A", 64) }, wantErr: "64 lower-case hex"},
		{name: "negative size", edit: func(m *Model) { m.Files[0].Size = -1 }, wantErr: "negative size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Model{ID: "org/name", Revision: testRevision, Files: []File{good}}
			tt.edit(&m)
			err := m.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestKnown(t *testing.T) {
	known := Known()
	if len(known) == 0 {
		t.Fatal("got no registered models, want at least MiniLM")
	}
	for _, m := range known {
		t.Run(m.ID, func(t *testing.T) {
			if err := m.Validate(); err != nil {
				t.Errorf("registry entry: %v", err)
			}
			got, ok := Lookup(m.ID)
			if !ok || got.Revision != m.Revision || len(got.Files) != len(m.Files) {
				t.Errorf("Lookup(%q) = %+v, %v; want the entry of Known", m.ID, got, ok)
			}
		})
	}
	t.Run("copies", func(t *testing.T) {
		known[0].Files[0].SHA256 = "changed"
		known[0].Package.Version = "changed"
		again := Known()
		if again[0].Files[0].SHA256 == "changed" || again[0].Package.Version == "changed" {
			t.Errorf("changing Known's result changed the registry")
		}
	})
}

func TestLookup(t *testing.T) {
	tests := []struct {
		id       string
		wantOK   bool
		wantRev  string
		wantSize int64
	}{
		{"sentence-transformers/all-MiniLM-L6-v2", true, "1110a243fdf4706b3f48f1d95db1a4f5529b4d41", 91_567_797},
		{"sentence-transformers/all-minilm-l6-v2", false, "", 0},
		{"sshleifer/distilbart-cnn-6-6", false, "", 0}, // until its hashes are recorded
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			m, ok := Lookup(tt.id)
			if ok != tt.wantOK || m.Revision != tt.wantRev || m.Size() != tt.wantSize {
				t.Errorf("got %v, revision %q, size %d; want %v, %q, %d", ok, m.Revision, m.Size(), tt.wantOK, tt.wantRev, tt.wantSize)
			}
		})
	}
}
