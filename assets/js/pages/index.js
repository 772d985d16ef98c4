// Every screen module; each registers its routes when imported.
import "./auth.js";
import "./dashboard.js";
import "./bots.js";
import "./account.js";
import "./orgs.js";
import "./members.js";
import "./roles.js";
import "./teams.js";
import "./tokens.js";
import "./audit.js";
import "./branding.js";
import "./admin.js";
import "./nlu.js";
import "./knowledge.js";
import "./llm.js";
import "./status.js";
