package office

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// setting is one value of LibreOffice's configuration: path is the group
// ("/org.openoffice.Office.Common/Security/Scripting"), name the property.
type setting struct {
	path, name, typ, value string
	why                    string
}

// profileSettings are written into each process's private profile before
// LibreOffice starts. The "why" of each is what docs/security.md reports.
var profileSettings = []setting{
	// Macros never run. LibreOfficeKit already loads every document with
	// MacroExecutionMode NEVER_EXECUTE; these make the configuration say so too.
	{"/org.openoffice.Office.Common/Security/Scripting", "MacroSecurityLevel", "int", "3", "macro security 'very high': only macros from trusted locations, and there are none"},
	{"/org.openoffice.Office.Common/Security/Scripting", "DisableMacrosExecution", "boolean", "true", "no macro runs, whatever the level"},
	{"/org.openoffice.Office.Common/Security/Scripting", "OfficeBasic", "int", "0", "Basic never runs"},
	{"/org.openoffice.Office.Common/Security/Scripting", "ExecutePlugins", "boolean", "false", "no plug-ins"},
	{"/org.openoffice.Office.Common/Security/Scripting", "CheckDocumentEvents", "boolean", "true", "document events are checked against an empty list of allowed event URLs"},
	{"/org.openoffice.Office.Common/Misc", "PluginsEnabled", "boolean", "false", "no plug-ins"},
	// Nothing is fetched.
	{"/org.openoffice.Office.Common/Security/Scripting", "BlockUntrustedRefererLinks", "boolean", "true", "linked images and other content of an untrusted document (every document here) are not loaded"},
	{"/org.openoffice.Office.Writer/Content/Update", "Link", "int", "0", "Writer never updates links (0 = never)"},
	{"/org.openoffice.Office.Calc/Content/Update", "Link", "int", "1", "Calc never updates links (1 = never)"},
	{"/org.openoffice.Office.Calc/Formula/Load", "OOXMLRecalcMode", "int", "1", "XLSX formulas (WEBSERVICE among them) are not recalculated on load: their saved results are shown"},
	{"/org.openoffice.Office.Calc/Formula/Load", "ODFRecalcMode", "int", "1", "ODS formulas are not recalculated on load"},
	{"/org.openoffice.Office.Common/Security", "LoadExoticFileFormats", "int", "0", "rare legacy formats (a larger attack surface) are refused"},
	{"/org.openoffice.Office.Update/Update", "Enabled", "boolean", "false", "no update check"},
	{"/org.openoffice.Office.ExtensionManager/ExtensionSecurity", "DisableExtensionInstallation", "boolean", "true", "no extension is installed"},
	// Nothing is written beside the document or kept after it.
	{"/org.openoffice.Office.Common/Misc", "UseLocking", "boolean", "false", "no lock files"},
	{"/org.openoffice.Office.Common/Misc", "UseDocumentSystemFileLocking", "boolean", "false", "no lock files"},
	{"/org.openoffice.Office.Common/Misc", "UseDocumentOOoLockFile", "boolean", "false", "no lock files"},
	{"/org.openoffice.Office.Recovery/AutoSave", "Enabled", "boolean", "false", "no autosave copies"},
	{"/org.openoffice.Office.Recovery/RecoveryInfo", "Enabled", "boolean", "false", "no recovery copies"},
	{"/org.openoffice.Office.Common/Save/Document", "AutoSave", "boolean", "false", "no autosave copies"},
	{"/org.openoffice.Office.Common/Misc", "CrashReport", "boolean", "false", "no crash reports"},
	{"/org.openoffice.Office.Common/Misc", "FirstRun", "boolean", "false", "no first-run work"},
	{"/org.openoffice.Office.Common/Misc", "ShowTipOfTheDay", "boolean", "false", "no tip of the day"},
}

// calcFormulaBar hides Calc's formula bar (child window FID_INPUTLINE_STATUS,
// id 26100). Debian's -nogui packages leave out the .ui files of the modules'
// windows; a view made through LibreOfficeKit is a visible one, whose formula
// bar Calc builds from modules/scalc/ui/inputbar.ui: without that file the
// view cannot be made and loadComponentFromURL returns an empty reference for
// every spreadsheet (soffice --convert-to loads hidden and never builds it).
// A hidden formula bar is never built.
const calcFormulaBar = `<item oor:path="/org.openoffice.Office.Views/Windows"><node oor:name="scalc/26100" oor:op="replace"><prop oor:name="Visible" oor:op="fuse"><value>false</value></prop></node></item>
<item oor:path="/org.openoffice.Office.Views/Windows"><node oor:name="26100" oor:op="replace"><prop oor:name="Visible" oor:op="fuse"><value>false</value></prop></node></item>
`

// registryModifications is the profile's user/registrymodifications.xcu;
// a bare one (tests' positive controls) has only the Calc fix.
func registryModifications(bare bool) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
`)
	for _, s := range profileSettings {
		if bare {
			break
		}
		fmt.Fprintf(&b, `<item oor:path="%s"><prop oor:name="%s" oor:op="fuse"><value>%s</value></prop></item>`+"\n", s.path, s.name, s.value)
	}
	b.WriteString(calcFormulaBar)
	b.WriteString("</oor:items>\n")
	return b.String()
}

// writeProfile makes a fresh profile in dir.
func writeProfile(dir string, bare bool) error {
	user := filepath.Join(dir, "user")
	if err := os.MkdirAll(user, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(user, "registrymodifications.xcu"), []byte(registryModifications(bare)), 0o600)
}
