// Every screen module; each registers its routes when imported.
import "./auth.js";
import "./dashboard.js";
import "./bots.js";
import "./bot.js";
import "./flows.js";
import "./orchestrations.js";
import "./widget.js";
import "./emulator.js";
import "./inbox.js";
import "./nlu.js";
import "./status.js";
