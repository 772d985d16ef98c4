-- Issue 22: the page a user started an SSO sign-in from (a deep link such as
-- /bots/12/flows, or the login page's ?next=) is kept with the sign-in
-- request, so the browser lands there after the IdP sends it back. Only a
-- relative path of this site is stored (never another origin, `//host`, a
-- backslash or /api/); anything else lands on `/`.
ALTER TABLE sso_auth_requests ADD COLUMN return_to TEXT CHECK (return_to IS NULL OR (substr(return_to, 1, 1) = '/' AND substr(return_to, 1, 2) <> '//'));
