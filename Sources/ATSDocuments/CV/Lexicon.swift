/// The words the CV parser recognises, in English, French and German.
enum Lexicon {
    /// Skill names and synonyms that are also everyday words: matched freely only in a skills list.
    static let ambiguousSkillWords: Set<String> = [
        "go", "swift", "rust", "ruby", "dart", "julia", "spring", "express", "combine", "compose", "phoenix", "vapor",
        "flutter", "espresso", "cucumber", "jest", "sketch", "helm", "lean", "nest", "node", "rails", "argo", "elastic",
        "shell", "torch", "discovery", "transformers", "notebooks", "security", "monitoring", "training", "containers",
        "pairing", "sourcing", "analytics", "controlling", "snowflake", "greenhouse", "workday", "amplitude",
        "confluence", "looker", "miro", "mongo", "kube", "scikit", "dataframes", "postman", "recruiting", "recruitment",
        "coaching", "collaboration", "flexibility", "accountability", "prioritisation", "prioritization", "branding",
        "prospecting", "experimentation", "telemetry", "accessibility", "newsletters", "consolidation", "budgeting",
        "networking", "statistics", "payroll", "prototyping", "roadmaps", "mockups", "pandas", "storybook",
        "fastlane", "firebase", "xero", "valkey", "kanban", "agile", "ownership", "empathy", "resilience", "creativity",
    ]

    enum Section: String, Sendable {
        case header, profile, contact, experience, education, skills, languages, other
    }

    /// Whole-line headings (lowercased, without a trailing colon).
    static let headings: [String: Section] = {
        var map: [String: Section] = [:]
        func add(_ section: Section, _ names: [String]) { for name in names { map[name] = section } }
        add(.profile, [
            "profile", "professional profile", "summary", "professional summary", "career summary", "executive summary",
            "about", "about me", "objective", "career objective", "personal statement", "overview", "profil",
            "profil professionnel", "résumé professionnel", "à propos", "a propos", "zusammenfassung", "profil und ziele",
            "kurzprofil", "über mich", "ueber mich",
        ])
        add(.contact, [
            "contact", "contact details", "contact information", "personal details", "personal information", "personal data",
            "details", "coordonnées", "informations personnelles", "état civil", "persönliche daten", "persönliche angaben",
            "kontakt", "kontaktdaten", "angaben zur person",
        ])
        add(.experience, [
            "experience", "work experience", "professional experience", "employment", "employment history",
            "career history", "work history", "career", "professional background", "relevant experience",
            "experience & projects", "experience and projects", "positions held", "expérience", "expériences",
            "expérience professionnelle", "expériences professionnelles", "parcours professionnel", "berufserfahrung",
            "berufliche erfahrung", "beruflicher werdegang", "werdegang", "berufliche laufbahn", "praxiserfahrung",
        ])
        add(.education, [
            "education", "education & training", "education and training", "academic background", "academic qualifications",
            "qualifications", "studies", "degrees", "academic history", "formation", "formations", "formation académique",
            "études", "etudes", "diplômes", "diplômes et formations", "ausbildung", "bildung", "bildungsweg", "studium",
            "akademischer werdegang", "schulbildung", "aus- und weiterbildung",
        ])
        add(.skills, [
            "skills", "key skills", "core skills", "technical skills", "skills & tools", "skills and tools", "hard skills",
            "soft skills", "it skills", "core competencies", "competencies", "competences", "technologies", "tech stack",
            "technical stack", "tools", "tools & technologies", "tools and technologies", "expertise", "areas of expertise",
            "skills & expertise", "skills summary", "compétences", "compétences techniques", "compétences clés",
            "savoir-faire", "outils", "kenntnisse", "fähigkeiten", "kompetenzen", "it-kenntnisse", "technische kenntnisse",
            "fachkenntnisse", "fachliche kompetenzen", "edv-kenntnisse", "programming languages", "frameworks", "top skills",
            "key competencies", "technical competencies", "skills and competencies", "skills & competencies",
        ])
        add(.languages, [
            "languages", "language skills", "spoken languages", "language", "langues", "compétences linguistiques",
            "langues parlées", "sprachen", "sprachkenntnisse", "fremdsprachen",
        ])
        add(.other, [
            "certifications", "certificates", "courses", "training", "projects", "selected projects", "publications",
            "awards", "honours", "honors", "achievements", "interests", "hobbies", "hobbies & interests", "volunteering",
            "volunteer experience", "references", "referees", "additional information", "activities", "memberships",
            "centres d'intérêt", "centres d’intérêt", "loisirs", "projets", "certificats", "références", "divers",
            "zertifikate", "zertifizierungen", "weiterbildung", "projekte", "interessen", "hobbys", "referenzen",
            "sonstiges", "ehrenamt", "publikationen",
        ])
        return map
    }()

    /// Words that make a line or segment a job title.
    static let roleWords: Set<String> = [
        "engineer", "developer", "manager", "consultant", "analyst", "designer", "recruiter", "director", "scientist",
        "architect", "lead", "head", "officer", "specialist", "administrator", "accountant", "controller", "executive",
        "representative", "coordinator", "assistant", "tester", "researcher", "owner", "partner", "generalist",
        "marketer", "programmer", "technician", "advisor", "adviser", "strategist", "writer", "editor", "trainer",
        "intern", "president", "founder", "co-founder", "cto", "ceo", "cfo", "cmo", "coo", "cio", "vp", "sre",
        "ingénieur", "ingénieure", "développeur", "développeuse", "directeur", "directrice", "responsable", "chef",
        "consultante", "analyste", "architecte", "chargé", "chargée", "comptable", "contrôleur", "contrôleuse",
        "gestionnaire", "technicien", "technicienne", "stagiaire", "concepteur", "conceptrice", "administrateur",
        "administratrice", "recruteur", "recruteuse", "testeur", "testeuse",
    ]

    /// German role stems, matched as word endings ("Softwareentwickler", "Teamleiterin").
    static let germanRoleStems: [String] = [
        "entwickler", "entwicklerin", "ingenieur", "ingenieurin", "berater", "beraterin", "leiter", "leiterin",
        "architekt", "architektin", "managerin", "analystin", "administratorin", "referent", "referentin",
        "sachbearbeiter", "sachbearbeiterin", "buchhalter", "buchhalterin", "spezialist", "spezialistin", "techniker",
        "technikerin", "designerin", "geschäftsführer", "geschäftsführerin", "tester", "testerin", "wissenschaftler",
        "wissenschaftlerin", "controllerin", "assistentin", "assistent", "werkstudent", "praktikant",
        // English role nouns inside compounds ("Datenanalyst", "Projektmanager", "Webdesigner").
        "analyst", "manager", "designer", "consultant", "engineer", "architect", "controller", "scientist", "developer",
        "administrator", "specialist", "recruiter",
    ]

    static let nameLabels: Set<String> = [
        "name", "full name", "nom complet", "nom et prénom", "name und vorname", "candidate", "candidat", "kandidat",
    ]
    static let firstNameLabels: Set<String> = ["first name", "given name", "forename", "prénom", "prenom", "vorname"]
    static let lastNameLabels: Set<String> = ["last name", "surname", "family name", "nom de famille", "nachname", "familienname", "nom"]
    static let titleLabels: Set<String> = [
        "title", "job title", "current title", "position", "current position", "role", "current role", "desired position",
        "poste", "poste actuel", "titre", "fonction", "intitulé du poste", "position actuelle", "aktuelle position",
        "berufsbezeichnung", "funktion", "jobtitel", "beruf",
    ]
    static let locationLabels: Set<String> = [
        "location", "current location", "address", "home address", "city", "based in", "residence", "place of residence",
        "adresse", "ville", "lieu", "domicile", "lieu de résidence", "wohnort", "ort", "anschrift", "standort", "wohnsitz",
    ]
    static let phoneLabels: Set<String> = [
        "phone", "telephone", "tel", "mobile", "mob", "cell", "cellphone", "phone number", "téléphone", "tél", "portable",
        "telefon", "tel.", "handy", "natel", "mobil", "mobile phone", "fon", "t", "m", "p",
    ]
    static let languageLabels: Set<String> = ["languages", "language", "spoken languages", "langues", "sprachen", "sprachkenntnisse"]
    static let skillLabels: Set<String> = [
        "skills", "key skills", "technical skills", "core skills", "technologies", "tech stack", "tools", "stack",
        "programming languages", "frameworks", "platforms", "methodologies", "competencies", "expertise",
        "compétences", "outils", "kenntnisse", "fähigkeiten", "kompetenzen", "it-kenntnisse", "technologien",
    ]

    /// Words announcing the candidate's location in prose ("based in Zurich").
    static let locationPhrases: [[String]] = [
        ["based", "in"], ["located", "in"], ["living", "in"], ["live", "in"], ["basé", "à"], ["basée", "à"],
        ["domicilié", "à"], ["domiciliée", "à"], ["wohnhaft", "in"], ["lebe", "in"], ["resident", "in"],
    ]

    /// Words of street addresses, which are not cities.
    static let streetWords: Set<String> = [
        "via", "rue", "strasse", "straße", "str", "street", "st", "road", "rd", "avenue", "av", "ave", "weg", "gasse", "platz",
        "chemin", "route", "allee", "allée", "lane", "boulevard", "bd", "place", "piazza", "corso", "calle", "viale", "quai",
    ]

    static let honorifics: Set<String> = ["mr", "mrs", "ms", "miss", "dr", "prof", "m", "mme", "mlle", "herr", "frau", "sir"]
    static let nameParticles: Set<String> = [
        "van", "von", "de", "du", "der", "den", "di", "da", "del", "della", "le", "la", "dos", "das", "ten", "ter", "bin",
        "al", "el", "zu", "vom", "des", "st", "y", "e",
    ]
    /// Words a name line never holds.
    static let notNameWords: Set<String> = [
        "curriculum", "vitae", "resume", "résumé", "cv", "lebenslauf", "profile", "profil", "summary", "contact",
        "page", "university", "school", "college", "street", "strasse", "straße", "rue", "avenue", "road", "phone",
        "email", "e-mail", "mobile", "address", "linkedin", "github", "skills", "experience", "education",
        "references", "available", "confidential", "personal", "details", "information", "date", "birth", "nationality",
        "ltd", "gmbh", "inc", "sa", "sàrl", "ag", "llc", "plc", "limited", "group", "bank", "insurance",
    ]
    static let documentTitleWords: Set<String> = ["curriculum", "vitae", "cv", "resume", "résumé", "lebenslauf", "of", "de", "von", "du"]

    /// Language levels that make "German (C1)" or "French – fluent" a spoken language outside a languages section.
    static let languageLevels: Set<String> = [
        "native", "mother", "fluent", "fluently", "bilingual", "proficient", "proficiency", "professional", "business",
        "conversational", "intermediate", "basic", "basics", "beginner", "advanced", "elementary", "upper", "working",
        "a1", "a2", "b1", "b2", "c1", "c2", "courant", "bilingue", "maternelle", "notions", "intermédiaire", "avancé",
        "débutant", "muttersprache", "muttersprachlich", "fließend", "fliessend", "verhandlungssicher",
        "grundkenntnisse", "gut", "sehr", "konversationssicher", "native speaker", "langue", "first", "second",
    ]
    /// Words before a language that mean the candidate speaks it ("fluent in German", "parle anglais").
    static let languageLeadIns: Set<String> = [
        "fluent", "speak", "speaks", "speaking", "native", "bilingual", "parle", "parlant", "spreche", "spricht",
        "conversant", "proficient",
    ]

    static let institutionWords: Set<String> = [
        "university", "universität", "universitat", "université", "universite", "universidad", "università",
        "universiteit", "uniwersytet", "college", "school", "institute", "institut", "instituto", "polytechnic",
        "polytechnique", "politecnico", "hochschule", "fachhochschule", "academy", "académie", "akademie", "école",
        "ecole", "conservatory", "seminary", "gymnasium", "lycée", "universitaire", "business school",
    ]
    /// Institutions known by their initials (matched as written).
    static let institutionAcronyms: Set<String> = [
        "ETH", "EPFL", "HEC", "ZHAW", "HSLU", "FHNW", "HES", "HES-SO", "HSG", "TU", "KU", "UCL", "MIT", "LSE", "RWTH",
        "KIT", "INSEAD", "ESSEC", "ESCP", "IMD", "UCLouvain", "ULB", "NYU", "UCLA", "LMU", "TUM", "UZH", "UNIL", "UNIGE",
        "INSA", "EPITA", "EPITECH", "ENS", "HEIG-VD", "HEIA", "BFH", "OST", "FH", "IU", "EM", "ESSCA", "NEOMA", "KEDGE",
    ]

    /// Degree words, compared with dots removed ("B.Sc." is "BSc"); short ones must be written in capitals.
    static let degreeWords: [String: DegreeLevel] = [
        "bsc": .bachelor, "beng": .bachelor, "bcom": .bachelor, "bba": .bachelor, "llb": .bachelor, "bachelor": .bachelor,
        "bachelors": .bachelor, "licence": .bachelor, "bts": .bachelor, "dut": .bachelor, "bachelier": .bachelor,
        "msc": .master, "meng": .master, "mba": .master, "mres": .master, "llm": .master, "master": .master,
        "masters": .master, "mphil": .master, "diplom": .master, "diploma": .master, "diplôme": .master, "dipling": .master,
        "diplomingenieur": .master, "mastère": .master, "magister": .master, "mas": .master,
        "phd": .doctorate, "dphil": .doctorate, "doctorate": .doctorate, "doctorat": .doctorate, "promotion": .doctorate,
        "doktor": .doctorate, "dr": .doctorate, "drsc": .doctorate, "drrernat": .doctorate, "doctor": .doctorate,
        "ba": .bachelor, "bs": .bachelor, "ma": .master, "ms": .master, "laurea": .bachelor, "licenciatura": .bachelor,
    ]
    /// Degree words so short that only their capitalised spelling counts ("BA", not "ba").
    static let capitalOnlyDegrees: Set<String> = ["ba", "bs", "ma", "ms", "mas", "dr", "bts", "dut"]

    enum DegreeLevel: Sendable { case bachelor, master, doctorate }

    static let degreeQualifiers: Set<String> = [
        "science", "sciences", "arts", "engineering", "business", "administration", "laws", "law", "commerce", "fine",
        "philosophy", "technology", "education", "music", "economics", "research", "applied", "advanced", "studies",
    ]

    static let months: [String: Int] = [
        "jan": 1, "january": 1, "janvier": 1, "januar": 1, "jänner": 1, "janv": 1,
        "feb": 2, "february": 2, "février": 2, "fevrier": 2, "févr": 2, "fev": 2, "févr.": 2, "februar": 2,
        "mar": 3, "march": 3, "mars": 3, "märz": 3, "maerz": 3, "mrz": 3,
        "apr": 4, "april": 4, "avril": 4, "avr": 4,
        "may": 5, "mai": 5,
        "jun": 6, "june": 6, "juin": 6, "juni": 6,
        "jul": 7, "july": 7, "juillet": 7, "juil": 7, "juli": 7,
        "aug": 8, "august": 8, "août": 8, "aout": 8,
        "sep": 9, "sept": 9, "september": 9, "septembre": 9,
        "oct": 10, "october": 10, "octobre": 10, "okt": 10, "oktober": 10,
        "nov": 11, "november": 11, "novembre": 11,
        "dec": 12, "december": 12, "décembre": 12, "decembre": 12, "dez": 12, "dezember": 12, "déc": 12,
    ]
    static let presentWords: Set<String> = [
        "present", "current", "now", "today", "ongoing", "date", "heute", "aktuell", "jetzt", "dato", "aujourd",
        "aujourd'hui", "présent", "actuel", "actuellement", "cours", "maintenant", "currently",
    ]
    static let sinceWords: Set<String> = ["since", "seit", "depuis", "from", "ab"]
    /// What may stand between the two ends of a date range.
    static let rangeWords: Set<String> = [
        "to", "until", "till", "through", "bis", "à", "au", "a", "jusqu", "-", "–", "—", "‒", "−", "/", "'", "’", "d", "l", "la",
    ]

    static let yearWords: Set<String> = ["years", "year", "yrs", "yr", "ans", "années", "jahre", "jahren", "jahr"]
    static let experienceWords: Set<String> = [
        "experience", "expérience", "expériences", "erfahrung", "berufserfahrung", "praxiserfahrung", "industry",
        "professional", "career", "berufliche", "work", "working", "field", "praxis", "domain", "fachgebiet",
    ]

    /// Other spellings of the spoken languages (French and German names, native names).
    static let languageAliases: [String: [String]] = [
        "English": ["Anglais", "Englisch", "Inglés", "Inglese"],
        "French": ["Français", "Francais", "Französisch", "Franzoesisch", "Francés", "Francese"],
        "German": ["Allemand", "Deutsch", "Alemán", "Tedesco", "High German", "Hochdeutsch"],
        "Spanish": ["Espagnol", "Spanisch", "Español", "Castellano"],
        "Italian": ["Italien", "Italienisch", "Italiano"],
        "Dutch": ["Néerlandais", "Niederländisch", "Nederlands", "Flemish", "Flamand"],
        "Portuguese": ["Portugais", "Portugiesisch", "Português"],
        "Swiss German": ["Suisse allemand", "Suisse-allemand", "Schweizerdeutsch", "Schwiizerdütsch", "Schweizer Deutsch"],
        "Polish": ["Polonais", "Polnisch", "Polski"],
        "Russian": ["Russe", "Russisch"],
        "Arabic": ["Arabe", "Arabisch"],
        "Mandarin Chinese": ["Mandarin", "Chinese", "Chinois", "Chinesisch"],
        "Turkish": ["Turc", "Türkisch", "Türkçe"],
        "Japanese": ["Japonais", "Japanisch"],
        "Swedish": ["Suédois", "Schwedisch", "Svenska"],
        "Greek": ["Grec", "Griechisch"],
        "Romanian": ["Roumain", "Rumänisch", "Română"],
        "Luxembourgish": ["Luxembourgeois", "Luxemburgisch", "Lëtzebuergesch"],
        "Irish": ["Irish Gaelic", "Gaelic", "Irlandais", "Irisch"],
        "Hindi": [],
    ]

    /// Other spellings of the taxonomy's cities.
    static let cityAliases: [String: [String]] = [
        "Zurich": ["Zürich", "Zuerich"], "Geneva": ["Genève", "Geneve", "Genf", "Ginevra"], "Munich": ["München", "Muenchen"],
        "Cologne": ["Köln", "Koeln"], "Vienna": ["Wien", "Vienne"], "Brussels": ["Bruxelles", "Brussel", "Brüssel"],
        "Lucerne": ["Luzern"], "Basel": ["Bâle", "Basle"], "Bern": ["Berne"], "Neuchâtel": ["Neuchatel"],
        "Liège": ["Liege", "Lüttich"], "Antwerp": ["Antwerpen", "Anvers"], "Ghent": ["Gent", "Gand"],
        "The Hague": ["Den Haag", "La Haye"], "Montreal": ["Montréal"], "Quebec City": ["Québec", "Quebec"],
        "Düsseldorf": ["Dusseldorf", "Duesseldorf"], "Frankfurt": ["Frankfurt am Main"], "New York": ["NYC", "New York City"],
        "St. Gallen": ["St Gallen", "Sankt Gallen", "Saint-Gall"], "Fribourg": ["Freiburg im Üechtland"],
        "Marseille": ["Marseilles"], "Lyon": ["Lyons"], "Strasbourg": ["Straßburg", "Strassburg"],
        "Esch-sur-Alzette": ["Esch"], "Sion": ["Sitten"], "Zug": ["Zoug"], "Salzburg": ["Salzbourg"], "Hamburg": ["Hambourg"],
        "Luxembourg": ["Luxemburg"],
    ]

    /// Other names of the taxonomy's countries.
    static let countryAliases: [String: [String]] = [
        "United Kingdom": [
            "UK", "U.K.", "Great Britain", "England", "Scotland", "Wales", "Royaume-Uni", "Vereinigtes Königreich",
            "Grossbritannien", "Großbritannien",
        ],
        "United States": ["USA", "U.S.A.", "US", "U.S.", "United States of America", "États-Unis", "Etats-Unis", "Vereinigte Staaten"],
        "Switzerland": ["Schweiz", "Suisse", "Svizzera", "CH"], "Germany": ["Deutschland", "Allemagne", "DE"],
        "Austria": ["Österreich", "Oesterreich", "Autriche"], "France": ["Frankreich"],
        "Belgium": ["Belgique", "België", "Belgien"], "Netherlands": ["The Netherlands", "Nederland", "Holland", "Pays-Bas", "Niederlande"],
        "Luxembourg": ["Luxemburg"], "Ireland": ["Irland", "Irlande", "Éire"], "Canada": ["Kanada"],
    ]
}
