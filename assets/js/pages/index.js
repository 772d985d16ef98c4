// Every screen module; each registers its routes when imported.
import "./auth.js";
import "./dashboard.js";
import "./bots.js";
import "./knowledge.js";
import "./llm.js";
import "./status.js";
