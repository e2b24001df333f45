"""What Python's HTML parser (the standard library's) makes of an mrt report page, as JSON:
the tag and attribute names used, how many <script> elements, the text, and per revision row
its id, verdicts and whether it is hidden. Used by tests/report.rs and tests/report_browser.rs."""
import html.parser
import json
import sys


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.text, self.scripts, self.rows = set(), set(), [], 0, []
        self.body = {}
        self.count = None
        self._in_count = False

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.update(k for k, _ in attrs)
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "body":
            self.body = a
        if tag == "tbody" and "rev" in (a.get("class") or "").split():
            self.rows.append({"revision": a.get("data-revision"),
                              "verdicts": a.get("data-verdicts"),
                              "hidden": "hidden" in a})
        self._in_count = a.get("id") == "f-count"

    def handle_endtag(self, tag):
        self._in_count = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_count:
            self.count = (self.count or "") + data


page = Page()
with open(sys.argv[1], encoding="utf-8") as f:
    page.feed(f.read())
print(json.dumps({"tags": sorted(page.tags), "attrs": sorted(page.attrs), "scripts": page.scripts,
                  "text": "".join(page.text), "rows": page.rows, "body": page.body,
                  "count": page.count}))
