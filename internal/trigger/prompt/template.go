package prompt

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode/utf8"
)

// MaxTemplateLength is the longest template accepted, as in the CRD's maxLength.
const MaxTemplateLength = 8192

// templateName appears in error positions: "prompt:3:14: ...".
const templateName = "prompt"

// rangeGuardName is the function Parse puts at the end of every range pipeline to
// bound loops; it is not available to templates themselves.
const rangeGuardName = "rangeLimit"

// Template is a parsed prompt template. It is safe for concurrent use.
type Template struct {
	tmpl *template.Template
	tree *parse.Tree
}

// builtins are the text/template builtins a prompt may call: all but call, which
// would call any function value reachable from the data.
func builtins() []string {
	return []string{"and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len", "index", "slice",
		"print", "printf", "println", "html", "js", "urlquery"}
}

// Parse parses a prompt template. It refuses define, template, block and call, and
// any function but the builtins and the helpers of this package, with the position
// of the problem.
func Parse(text string) (*Template, error) {
	switch {
	case strings.TrimSpace(text) == "":
		return nil, errors.New("prompt is empty")
	case len(text) > MaxTemplateLength:
		return nil, fmt.Errorf("prompt is %d bytes long, more than %d", len(text), MaxTemplateLength)
	case !utf8.ValidString(text):
		return nil, errors.New("prompt is not valid UTF-8")
	}
	// Parse the tree ourselves, with function names unchecked, so that the walk below
	// can say which function is unknown and what is available, and so that every
	// define shows in treeSet, including one named like the prompt itself.
	tree := parse.New(templateName)
	tree.Mode = parse.SkipFuncCheck
	treeSet := map[string]*parse.Tree{}
	if _, err := tree.Parse(text, "", "", treeSet); err != nil {
		// "template: prompt:3: unexpected EOF" reads better without its first word.
		return nil, fmt.Errorf("prompt is not a valid template: %s", strings.TrimPrefix(err.Error(), "template: "))
	}
	for _, name := range slices.Sorted(maps.Keys(treeSet)) {
		if defined := treeSet[name]; defined != tree {
			location, _ := defined.ErrorContext(defined.Root)
			return nil, fmt.Errorf("%s: the prompt defines a template %q: define and block are not allowed in a prompt; write the text inline", location, name)
		}
	}
	if err := checkNodes(tree); err != nil {
		return nil, err
	}
	guardRanges(tree)
	// Render gives each rendering functions with a budget of its own; these, with one
	// that nobody spends, are only there to be replaced.
	tmpl, err := template.New(templateName).Option("missingkey=error").Funcs(renderFuncs(newBudget())).AddParseTree(templateName, tree)
	if err != nil {
		return nil, fmt.Errorf("prompt is not a valid template: %w", err)
	}
	return &Template{tmpl: tmpl, tree: tree}, nil
}

// checkNodes refuses the actions and functions a prompt may not use.
func checkNodes(tree *parse.Tree) error {
	allowed := append(builtins(), helperNames()...)
	var err error
	walk(tree.Root, func(n parse.Node) bool {
		switch n := n.(type) {
		case *parse.TemplateNode:
			location, context := tree.ErrorContext(n)
			err = fmt.Errorf("%s: %s: template and block are not allowed in a prompt; write the text inline", location, context)
		case *parse.IdentifierNode:
			location, _ := tree.ErrorContext(n)
			switch {
			case n.Ident == "call":
				err = fmt.Errorf("%s: call is not allowed in a prompt", location)
			case !slices.Contains(allowed, n.Ident):
				slices.Sort(allowed)
				err = fmt.Errorf("%s: function %q is not available in a prompt; available: %s", location, n.Ident, strings.Join(allowed, ", "))
			}
		}
		return err == nil
	})
	return err
}

// walk calls visit on n and every node under it, depth first, until visit returns
// false.
func walk(n parse.Node, visit func(parse.Node) bool) bool {
	if n == nil || !visit(n) {
		return false
	}
	var children []parse.Node
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			children = append(children, n.Nodes...)
		}
	case *parse.ActionNode:
		children = append(children, n.Pipe)
	case *parse.IfNode:
		children = append(children, branch(&n.BranchNode)...)
	case *parse.RangeNode:
		children = append(children, branch(&n.BranchNode)...)
	case *parse.WithNode:
		children = append(children, branch(&n.BranchNode)...)
	case *parse.TemplateNode:
		if n.Pipe != nil {
			children = append(children, n.Pipe)
		}
	case *parse.PipeNode:
		if n != nil {
			for _, d := range n.Decl {
				children = append(children, d)
			}
			for _, c := range n.Cmds {
				children = append(children, c)
			}
		}
	case *parse.CommandNode:
		children = append(children, n.Args...)
	case *parse.ChainNode:
		children = append(children, n.Node)
	}
	for _, c := range children {
		if !walk(c, visit) {
			return false
		}
	}
	return true
}

// branch returns the parts of an if, range or with that exist (a nil *ListNode
// stored in a parse.Node is not a nil interface, so it is left out here).
func branch(b *parse.BranchNode) []parse.Node {
	out := []parse.Node{b.Pipe}
	if b.List != nil {
		out = append(out, b.List)
	}
	if b.ElseList != nil {
		out = append(out, b.ElseList)
	}
	return out
}

// guardRanges appends "| rangeLimit N" to the pipeline of every range, N being the
// size of its body. Without it a range over a number ({{range 1000000000}}{{end}},
// or over .Count, which whoever creates events chooses) or nested ranges with bodies
// that print nothing would run for minutes, and the output limit would never stop them.
func guardRanges(tree *parse.Tree) {
	var ranges []*parse.RangeNode
	walk(tree.Root, func(n parse.Node) bool {
		if r, ok := n.(*parse.RangeNode); ok {
			ranges = append(ranges, r)
		}
		return true
	})
	for _, r := range ranges {
		size := 1 // the iteration itself
		walk(r.List, func(parse.Node) bool { size++; return true })
		ident := parse.NewIdentifier(rangeGuardName).SetTree(tree).SetPos(r.Pipe.Pos)
		arg := &parse.NumberNode{NodeType: parse.NodeNumber, Pos: r.Pipe.Pos, IsInt: true, Int64: int64(size), Text: strconv.Itoa(size)}
		r.Pipe.Cmds = append(r.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: r.Pipe.Pos, Args: []parse.Node{ident, arg}})
	}
}
