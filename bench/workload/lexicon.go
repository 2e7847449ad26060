package workload

// Languages, as indexes into lexicons.
const (
	langNL = 0
	langEN = 1
)

// lexicons holds the vocabulary of each language.
var lexicons = [2]*lexicon{langNL: nl, langEN: en}

type agent struct{ name, first, initials string }

// city is a city with the leading digits (Dutch) or area letters (British) of its
// postcodes.
type city struct{ name, code string }

type carrier struct {
	name   string
	format int // one of the track* formats
}

// Tracking-code formats.
const (
	trackPostNL = iota // 3SABCD123456789
	trackDHL           // JVGL06123456789012
	trackDPD           // 05212345678901
	trackUPS           // 1Z + 16 alphanumerics
	trackGLS           // 11 digits
	trackRoyal         // AB123456789GB
	trackEvri          // H + 15 alphanumerics
)

// lexicon is everything language-specific: names, places, products, formats and the
// sentence templates of every kind of message.
type lexicon struct {
	code string // "nl", "en"

	female, male, surnames []string
	streets                []string
	cities                 []city
	products               []string
	carriers               []carrier
	agents                 []agent
	codes                  []string // discount codes
	vatPrefix              string

	months, monthsShort, weekdays, weekdaysShort []string
	dateSep                                      byte
	euro0, euro1, euroSuffix                     string
	thousands, decimal                           byte
	mr, mrs                                      string

	// E-mail.
	custGreet, agentGreet       []tmpl
	closings                    []string
	custSig                     []tmpl
	mobileFooters               []string
	details                     [4]tmpl // order, invoice, shipment and customer details blocks
	openers, closers            []tmpl
	cust                        [nTopics][]tmpl
	agentThanks, agentGeneric   []tmpl
	agentClose                  []tmpl
	agentSays                   [nTopics][]tmpl
	subjects                    [nTopics][]tmpl
	replyPrefixes               []string
	teamSig                     []string
	disclaimers                 []string
	wroteOn, wroteAt, wroteVerb string
	wroteEnd                    string
	origMsg, hdrFrom, hdrSent   string
	hdrTo, hdrSubject           string
	serviceName, serviceMail    string

	// Calls.
	callIn, callOut, callActions []tmpl
	callTopic                    [nTopics][]tmpl
	callOutcomes, callExtra      []tmpl
	callSaid                     string // "Klant gaf aan: "
	callTold                     string // "Teruggekoppeld: "
	callSubjects                 []string

	// Chat.
	chatHeader                          []tmpl
	chatOpen, chatAgent, chatAgentClose []tmpl
	chatCustOpen, chatCust              []tmpl
	chatCustClose, chatBot              []tmpl
	chatEnd                             []string
	custLabel, agentLabel, botLabel     string
	chatSubjects                        []string

	// Social media.
	social         [nTopics][]tmpl
	socialOut      []tmpl
	hashtags       []string
	socialSubjects []string

	// Letters.
	letterOpeners, letterReplyOpeners []tmpl
	companyAddress, letterTo          string
	companyLetterhead                 string
	regarding, ourRef, yourRef        string
	letterGreet, letterClose          string
	letterSalute                      tmpl
	letterEnclosures                  []string
	letterSubject                     string
	department                        string

	// Web forms.
	webTitle         string
	webLabels        [6]string // subject, name, e-mail, phone, order, message
	webTopics        [nTopics]string
	webFooter        tmpl
	webSubjectPrefix string

	// Internal notes and store visits.
	internalHead []tmpl
	internal     []tmpl
	storeVisit   []tmpl
	otherSubject []tmpl

	// Attachment file names.
	attInvoice, attOrder, attDamage, attScreenshot, attAt string
	attPassport, attReturns, attLetter, attMandate        string
}
