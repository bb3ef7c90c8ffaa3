package tenant

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoNamespaceOutsideTenant keeps the rule of the package doc: outside
// this package and the composition root, no code of the appliance opens,
// creates, deletes or lists storage namespaces by name. Such code would
// reach a tenant's data with a slug instead of a *Tenant.
func TestNoNamespaceOutsideTenant(t *testing.T) {
	allowed := map[string]bool{"tenant": true, "daemon": true}
	byName := map[string]bool{"CreateNamespace": true, "DeleteNamespace": true, "Namespaces": true}
	dirs, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, d := range dirs {
		if !d.IsDir() || allowed[d.Name()] {
			continue
		}
		files, _ := filepath.Glob(filepath.Join("..", d.Name(), "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			file, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			ast.Inspect(file, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				// pool.Namespace(name) takes a name; Tenant.Namespace() does not.
				if byName[sel.Sel.Name] || sel.Sel.Name == "Namespace" && len(call.Args) > 0 {
					t.Errorf("%s: %s(…) reaches a namespace by name; take a *tenant.Tenant instead", fset.Position(call.Pos()), sel.Sel.Name)
				}
				return true
			})
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d files; is the test looking in the right place?", checked)
	}
}
