package webui_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// Browser tests drive Debian's chromium, headless, against the in-cluster UI. Without
// chromium they skip, unless KUBEASK_REQUIRE_BROWSER is set (CI sets it, and installs
// chromium). With KUBEASK_SCREENSHOTS=<dir> they save the main pages there (make
// screenshots).

func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser starts a browser of its own (its own cookies) for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("KUBEASK_REQUIRE_BROWSER") != "" {
			t.Fatal("chromium is not installed, and KUBEASK_REQUIRE_BROWSER is set: apt-get install chromium")
		}
		t.Skip("skipping the browser test: chromium is not installed (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.WindowSize(1100, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// act runs actions, each step bounded, and on failure reports what the page shows.
func act(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Fatalf("%s: %v\nthe page shows:\n%s", what, err, page)
	}
}

// value runs one action that returns something.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// screenshot saves the page as <name>.png when KUBEASK_SCREENSHOTS names a directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("KUBEASK_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := value(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func browserLogin(t *testing.T, ctx context.Context, token string) {
	t.Helper()
	act(t, ctx, "login",
		chromedp.Navigate(ui.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
	)
	screenshot(t, ctx, "ui-login")
	act(t, ctx, "login",
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS(`section.login form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#who")),
	)
}

func TestBrowserAliceAsksWatchesStepsLiveAndApproves(t *testing.T) {
	ctx := browser(t)
	prompt := "checkout needs 3 replicas"
	var once sync.Once
	gate := make(chan struct{})
	release := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
		results := 0 // of the whole conversation: a resumed run replays the earlier steps
		for _, m := range req.Messages {
			if m.Role == "tool" {
				results++
			}
		}
		switch results {
		case 0:
			return llmtest.Reply{Calls: []llmtest.Call{{Name: "resources_list", Args: `{"resource":"pods","namespace":"team-a"}`}}}
		case 1:
			// Hold the run here, with its first step recorded, until the test has seen
			// that step arrive in the open page.
			select {
			case <-gate:
			case <-time.After(45 * time.Second):
			}
			return llmtest.Reply{Calls: []llmtest.Call{{Name: "resources_scale", Args: `{"resource":"deployment","name":"checkout","namespace":"team-a","replicas":3}`}}}
		}
		return llmtest.Reply{Text: "Scaled **checkout** to 3 replicas; the new pod is starting.\n\n| pod | ready |\n| --- | --- |\n| checkout-1 | yes |"}
	})
	browserLogin(t, ctx, aliceToken)
	act(t, ctx, "ask",
		chromedp.Navigate(ui.URL+"/ns/team-a/"),
		chromedp.WaitVisible(chromedp.CSS("#prompt")),
		chromedp.SetValue(chromedp.CSS("#session"), "checkout-incident"),
		chromedp.SetValue(chromedp.CSS("#profile"), "operate"),
		chromedp.SetValue(chromedp.CSS("#mode"), "Propose"),
		chromedp.SendKeys(chromedp.CSS("#prompt"), prompt),
		chromedp.Click(chromedp.CSS(`form.ask button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`article.turn`)),
		// A mark on this very page: if it is still there when the step shows, the step
		// came through the event stream, not a reload.
	)
	value(t, ctx, "mark the page", chromedp.Evaluate[int](`window.kubeaskMark = 42`))
	act(t, ctx, "the first step", chromedp.WaitVisible(chromedp.CSS(`li.step.state-done`)))
	mark := value(t, ctx, "the mark", chromedp.Evaluate[int](`window.kubeaskMark`))
	working := value(t, ctx, "working", chromedp.Evaluate[bool](`document.querySelector('.working') !== null`))
	if mark != 42 {
		t.Fatal("the page reloaded: the step did not arrive live")
	}
	if !working {
		t.Error("no sign that the agent is still working")
	}
	screenshot(t, ctx, "ui-session-live")
	release()
	act(t, ctx, "the proposal", chromedp.WaitVisible(chromedp.CSS(`form.decide button[value=approve]`)))
	review := value(t, ctx, "the review", chromedp.Text(chromedp.CSS(`pre.diff`)))
	mark = value(t, ctx, "the mark", chromedp.Evaluate[int](`window.kubeaskMark`))
	if mark != 42 {
		t.Error("the page reloaded before the proposal showed")
	}
	if !strings.Contains(review, "replicas: 3") || !strings.Contains(review, "replicas: 2") {
		t.Errorf("the review shows no diff of the replicas:\n%s", review)
	}
	screenshot(t, ctx, "ui-review")
	act(t, ctx, "approve",
		chromedp.Click(chromedp.CSS(`form.decide button[value=approve]`)),
		chromedp.WaitVisible(chromedp.CSS(`.answer table`)),
	)
	answer := value(t, ctx, "the answer", chromedp.Text(chromedp.CSS(`.answer`)))
	if !strings.Contains(answer, "Scaled checkout to 3 replicas") {
		t.Errorf("answer %q", answer)
	}
	screenshot(t, ctx, "ui-session")
	d := &appsv1.Deployment{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: "checkout"}, d); err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 3 {
		t.Errorf("checkout has %d replicas after the approval, want 3", *d.Spec.Replicas)
	}
	// The list of the namespace, and the same at phone width.
	act(t, ctx, "home", chromedp.Navigate(ui.URL+"/ns/team-a/"), chromedp.WaitVisible(chromedp.CSS(`ul.cards`)))
	screenshot(t, ctx, "ui-home")
	act(t, ctx, "phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(ui.URL+"/ns/team-a/sessions/checkout-incident"),
		chromedp.WaitVisible(chromedp.CSS(`.answer`)))
	overflow := value(t, ctx, "phone width", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	if overflow {
		t.Error("the session page is wider than a phone")
	}
	screenshot(t, ctx, "ui-phone")
}

func TestBrowserBobIsRefusedAlicesSession(t *testing.T) {
	scripts.Set("who may read this?", func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Text: "alice's team."} })
	alice, _ := login(t, aliceToken)
	askAs(t, alice, "alice-only", "who may read this?")
	ctx := browser(t)
	browserLogin(t, ctx, bobToken)
	act(t, ctx, "bob opens the link",
		chromedp.Navigate(ui.URL+"/ns/team-a/sessions/alice-only"),
		chromedp.WaitVisible(chromedp.CSS(`section.message h1`)),
	)
	title := value(t, ctx, "the refusal", chromedp.Text(chromedp.CSS(`section.message h1`)))
	if title != "You cannot read this session in team-a" {
		t.Errorf("bob sees %q", title)
	}
	screenshot(t, ctx, "ui-refused")
}

func TestBrowserScriptInAnAnswerDoesNotRun(t *testing.T) {
	prompt := "print a script tag"
	scripts.Set(prompt, func(llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Text: "Here it is.\n\n<script>document.title='pwned'</script>\n\n" +
			"<img src=x onerror=\"document.title='pwned'\">\n\n[click](javascript:document.title='pwned')\n\n" +
			"<a href=\"javascript:document.title='pwned'\" id=\"evil\">evil</a>"}
	})
	ctx := browser(t)
	browserLogin(t, ctx, aliceToken)
	act(t, ctx, "ask",
		chromedp.Navigate(ui.URL+"/ns/team-a/"),
		chromedp.WaitVisible(chromedp.CSS("#prompt")),
		chromedp.SendKeys(chromedp.CSS("#prompt"), prompt),
		chromedp.Click(chromedp.CSS(`form.ask button[type=submit]`)),
		// The answer arrives through the event stream, or is in the page already.
		chromedp.WaitVisible(chromedp.CSS(`.answer`)),
	)
	check := func(where string) {
		t.Helper()
		time.Sleep(500 * time.Millisecond) // give a script that slipped through time to run
		title := value(t, ctx, "title", chromedp.Title())
		dangerous := value(t, ctx, "inspect", chromedp.Evaluate[int](`document.querySelectorAll('.answer script, .answer [onerror], .answer a[href^="javascript"]').length`))
		if strings.Contains(title, "pwned") || dangerous != 0 {
			t.Errorf("%s: title %q, %d dangerous elements in the answer", where, title, dangerous)
		}
	}
	check("live")
	links := value(t, ctx, "the query page", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('a.permalink')).map(a => a.getAttribute('href'))`))
	if len(links) == 0 {
		t.Fatal("no link to the query")
	}
	act(t, ctx, "reload", chromedp.Navigate(ui.URL+links[0]), chromedp.WaitVisible(chromedp.CSS(`.answer`)))
	check("rendered by the server")
}

func TestBrowserTriggersList(t *testing.T) {
	if os.Getenv("KUBEASK_SCREENSHOTS") == "" {
		t.Skip("the triggers page is covered by its screenshot only")
	}
	tr := &agentsv1alpha1.AgentTrigger{
		ObjectMeta: metav1.ObjectMeta{Name: "every-1h", Namespace: "team-a"},
		Spec: agentsv1alpha1.AgentTriggerSpec{
			Schedule: &agentsv1alpha1.ScheduleSource{Cron: "0 * * * *"},
			Query:    agentsv1alpha1.QueryTemplate{Prompt: "summarize the warnings in team-a"},
		},
	}
	c, err := cluster.Client(tokenConfig(aliceToken))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(t.Context(), tr); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t)
	browserLogin(t, ctx, aliceToken)
	act(t, ctx, "triggers", chromedp.Navigate(ui.URL+"/ns/team-a/triggers"), chromedp.WaitVisible(chromedp.CSS(`ul.cards`)))
	screenshot(t, ctx, "ui-triggers")
}
