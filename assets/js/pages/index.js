// Every screen module; each registers its routes when imported.
import "./auth.js";
import "./dashboard.js";
import "./bots.js";
import "./nlu.js";
import "./status.js";
