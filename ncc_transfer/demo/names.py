"""Name, place and school-name lists for the synthetic LA (ncc_transfer.demo).

Everything here is invented or generic: common UK forenames and surnames (diverse, some with
hyphens, apostrophes and accents, which are VALID name characters and must never be flagged),
Norfolk-ish towns with plausible postcode districts, street names and school-name patterns. No real
pupil and no real school is represented.
"""

from __future__ import annotations

FEMALE_FORENAMES = [
    "Olivia", "Amelia", "Isla", "Ava", "Ivy", "Freya", "Lily", "Florence", "Mia", "Willow",
    "Rosie", "Sophia", "Isabella", "Grace", "Daisy", "Sienna", "Poppy", "Elsie", "Emily", "Ella",
    "Evelyn", "Phoebe", "Sofia", "Evie", "Charlotte", "Harper", "Millie", "Matilda", "Maya", "Sophie",
    "Alice", "Emilia", "Isabelle", "Ruby", "Luna", "Maisie", "Aria", "Penelope", "Mila", "Bonnie",
    "Eva", "Hallie", "Eliza", "Ada", "Violet", "Esme", "Arabella", "Imogen", "Jessica", "Delilah",
    "Thea", "Lottie", "Chloé", "Zoë", "Niamh", "Siobhán", "Aoife", "Caitlin", "Megan", "Ffion",
    "Seren", "Cerys", "Eilidh", "Amira", "Aisha", "Fatima", "Maryam", "Zainab", "Hafsa", "Inaaya",
    "Anaya", "Priya", "Aaradhya", "Simran", "Harleen", "Jasmine", "Leah", "Nia", "Precious", "Adaeze",
    "Chioma", "Amara", "Kemi", "Zuzanna", "Julia", "Maja", "Oliwia", "Lena", "Ioana", "Bianca",
    "Elif", "Yasmin", "Mei", "Hana", "Renée", "Anaïs", "Inès", "Lucía", "María", "Zara",
    "Holly", "Erin", "Scarlett", "Lacey", "Tilly", "Summer", "Skye", "Macy", "Kayla", "Demi",
    "Ellie-Mae", "Lily-Rose", "Mary-Jane", "Rose", "Heidi", "Beatrice", "Clara", "Edith", "Nancy", "Martha",
]

MALE_FORENAMES = [
    "Muhammad", "Noah", "Oliver", "George", "Leo", "Arthur", "Luca", "Theodore", "Oscar", "Archie",
    "Henry", "Theo", "Jude", "Freddie", "Alfie", "Charlie", "Finley", "Jack", "Thomas", "Albie",
    "Tommy", "Isaac", "Jacob", "Roman", "Edward", "Lucas", "Hugo", "Reggie", "Arlo", "Ezra",
    "Teddy", "Harry", "Elijah", "Rory", "Louie", "William", "Mason", "Max", "Joshua", "James",
    "Alexander", "Samuel", "Daniel", "Benjamin", "Ethan", "Harrison", "Toby", "Jaxon", "Riley", "Kai",
    "Tyler", "Callum", "Connor", "Liam", "Dylan", "Owen", "Rhys", "Gethin", "Cian", "Seán",
    "Ciarán", "Oisín", "Eóin", "Ruairí", "Ibrahim", "Yusuf", "Ayaan", "Zayn", "Hamza", "Omar",
    "Ali", "Aarav", "Arjun", "Rohan", "Vihaan", "Gurveer", "Harjit", "Kofi", "Kwame", "Chinedu",
    "Emeka", "Tobi", "David", "Jakub", "Szymon", "Antoni", "Filip", "Mateo", "Andrei", "Luka",
    "Emre", "Kaan", "Jun", "Hiro", "Minh", "José", "André", "Léo", "Raphaël", "Matteo",
    "Ronnie", "Stanley", "Frankie", "Bobby", "Alfred", "Sonny", "Ollie", "Jenson", "Kayden", "Brodie",
    "Billy-Joe", "Jean-Luc", "Lewis", "Aaron", "Reuben", "Gabriel", "Joseph", "Sebastian", "Nathan", "Ben",
]

SURNAMES = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright",
    "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke",
    "Patel", "Khan", "Lewis", "James", "Phillips", "Mason", "Mitchell", "Rose", "Davis", "Rodriguez",
    "Cox", "Alexander", "Morgan", "Moore", "Mills", "King", "Adams", "Garcia", "White", "Stewart",
    "Howard", "Payne", "Cooper", "Ward", "Chapman", "Harvey", "Murray", "Bailey", "Cole", "Knight",
    "Hudson", "Harris", "Gray", "Carter", "Turner", "Barker", "Pearce", "Kelly", "Hill", "Shaw",
    # Norfolk-flavoured surnames
    "Bunn", "Howes", "Thrower", "Eke", "Loades", "Gotts", "Youngs", "Bishop", "Tungate", "Nobbs",
    "Dye", "Pegg", "Cushion", "Bussey", "Daniels", "Gedge", "Lake", "Spinks", "Seago", "Thirtle",
    "Goff", "Middleton", "Riches", "Bales", "Gray", "Farrow", "Ringer", "Kerrison", "Platten", "Juby",
    # Irish, Scottish, Welsh
    "O'Brien", "O'Connor", "O'Neill", "McCarthy", "Murphy", "Byrne", "Ó Súilleabháin", "MacDonald", "McLeod", "Fraser",
    "Campbell", "Ferguson", "Lloyd", "Pritchard", "Hughes", "Price", "ap Rhys", "Griffiths",
    # hyphenated and compound
    "Smith-Jones", "Hart-Davies", "Lloyd-Webber", "Bowes-Lyon", "Ashby-Clarke", "Fox-Pitt", "Knight-Baker",
    "Ahmed-Khan", "De Souza", "D'Souza", "Van der Berg", "de la Cruz", "Le Roux", "St John", "Mac an tSaoir",
    # South Asian
    "Begum", "Ahmed", "Hussain", "Ali", "Rahman", "Islam", "Uddin", "Chowdhury", "Sharma", "Singh",
    "Kaur", "Gill", "Sandhu", "Mistry", "Shah", "Mehta", "Iqbal", "Malik", "Akhtar", "Siddiqui",
    # African and Caribbean
    "Okafor", "Adeyemi", "Okonkwo", "Mensah", "Owusu", "Boateng", "Abara", "Nwosu", "Balogun", "Adebayo",
    "Campbell-Brown", "Francis", "Grant", "Baptiste", "Joseph", "Henry", "Mohamed", "Abdi", "Hassan", "Warsame",
    # European
    "Nowak", "Kowalski", "Wiśniewska", "Wójcik", "Kamińska", "Lewandowski", "Zieliński", "Popescu", "Ionescu", "Petrov",
    "Kazlauskas", "Jankauskas", "Bērziņš", "Novák", "Horváth", "Müller", "Schäfer", "García", "Fernández", "Martínez",
    "Rossi", "Russo", "Esposito", "Silva", "Santos", "Ferreira", "Costa", "Yılmaz", "Kaya", "Demir",
    "Papadopoulos", "Dubois", "Lefèvre", "Björk", "Nguyen", "Tran", "Chen", "Wang", "Li", "Wong",
    "Kim", "Park", "Tanaka", "Sato", "Cohen", "Levi", "Kaplan", "Rosenberg", "Abadi", "Karimi",
]

# Preferred (known-as) forenames for a few formal names.
PREFERRED_FORENAMES = {
    "Alexander": "Alex", "William": "Will", "Thomas": "Tom", "Joshua": "Josh", "Samuel": "Sam",
    "Benjamin": "Ben", "Daniel": "Dan", "Edward": "Ted", "Frederick": "Freddie", "Harrison": "Harry",
    "Joseph": "Joe", "Sebastian": "Seb", "Theodore": "Theo", "Matilda": "Tilly", "Isabella": "Bella",
    "Elizabeth": "Libby", "Charlotte": "Lottie", "Penelope": "Penny", "Margaret": "Maggie", "Jessica": "Jess",
    "Eleanor": "Ellie", "Florence": "Flo", "Arabella": "Bella", "Evelyn": "Evie", "Beatrice": "Bea",
}

# Norfolk-ish towns and villages with a plausible postcode district (synthetic; close enough).
TOWNS: list[tuple[str, str]] = [
    ("Holt", "NR25"), ("Wymondham", "NR18"), ("Dereham", "NR19"), ("Aylsham", "NR11"),
    ("Cromer", "NR27"), ("Sheringham", "NR26"), ("Fakenham", "NR21"), ("Swaffham", "PE37"),
    ("Diss", "IP22"), ("Attleborough", "NR17"), ("Watton", "IP25"), ("North Walsham", "NR28"),
    ("Wroxham", "NR12"), ("Loddon", "NR14"), ("Harleston", "IP20"), ("Long Stratton", "NR15"),
    ("Hingham", "NR9"), ("Reepham", "NR10"), ("Acle", "NR13"), ("Stalham", "NR12"),
    ("Downham Market", "PE38"), ("King's Lynn", "PE30"), ("Hunstanton", "PE36"), ("Thetford", "IP24"),
    ("Great Yarmouth", "NR30"), ("Gorleston", "NR31"), ("Caister-on-Sea", "NR30"), ("Hethersett", "NR9"),
    ("Costessey", "NR8"), ("Taverham", "NR8"), ("Drayton", "NR8"), ("Sprowston", "NR7"),
    ("Thorpe St Andrew", "NR7"), ("Poringland", "NR14"), ("Brundall", "NR13"), ("Blofield", "NR13"),
    ("Hellesdon", "NR6"), ("Horsford", "NR10"), ("Mulbarton", "NR14"), ("Wells-next-the-Sea", "NR23"),
    ("Burnham Market", "PE31"), ("Heacham", "PE31"), ("Snettisham", "PE31"), ("Terrington St Clement", "PE34"),
    ("Gayton", "PE32"), ("Narborough", "PE32"), ("Necton", "PE37"), ("Shipdham", "IP25"),
    ("Mattishall", "NR20"), ("Old Buckenham", "NR17"), ("Kenninghall", "NR16"), ("Banham", "NR16"),
    ("Pulham Market", "IP21"), ("Ditchingham", "NR35"), ("Martham", "NR29"), ("Hemsby", "NR29"),
    ("Ormesby St Margaret", "NR29"), ("Ludham", "NR29"), ("Horning", "NR12"), ("Coltishall", "NR12"),
    ("Buxton", "NR10"), ("Briston", "NR24"), ("Melton Constable", "NR24"), ("Blakeney", "NR25"),
    ("Weybourne", "NR25"), ("Corpusty", "NR11"), ("Foulsham", "NR20"), ("Great Ellingham", "NR17"),
    ("Swanton Morley", "NR20"), ("Litcham", "PE32"), ("Methwold", "IP26"), ("Feltwell", "IP26"),
    ("Hockwold", "IP26"), ("Marham", "PE33"), ("Watlington", "PE33"), ("Stoke Ferry", "PE33"),
    ("Upwell", "PE14"), ("Outwell", "PE14"), ("Emneth", "PE14"), ("Clenchwarton", "PE34"),
    ("Grimston", "PE32"), ("Dersingham", "PE31"), ("Docking", "PE31"), ("Walsingham", "NR22"),
    ("Hindringham", "NR21"), ("Cawston", "NR10"), ("Mundesley", "NR11"), ("Overstrand", "NR27"),
    ("Bacton", "NR12"), ("Happisburgh", "NR12"), ("Worstead", "NR28"), ("Trunch", "NR28"),
    ("Aldborough", "NR11"), ("Erpingham", "NR11"), ("Saxlingham", "NR15"), ("Tasburgh", "NR15"),
    ("Hempnall", "NR15"), ("Bunwell", "NR16"), ("Ashwellthorpe", "NR16"), ("Wicklewood", "NR18"),
    ("Barnham Broom", "NR9"), ("Cringleford", "NR4"), ("Eaton", "NR4"), ("Lakenham", "NR1"),
    ("Mile Cross", "NR3"), ("Catton", "NR6"), ("Heartsease", "NR7"), ("Bowthorpe", "NR5"),
    ("Tuckswood", "NR4"), ("Earlham", "NR5"), ("West Earlham", "NR5"), ("Spixworth", "NR10"),
    ("Rackheath", "NR13"), ("Salhouse", "NR13"), ("Lingwood", "NR13"), ("Reedham", "NR13"),
    ("Chedgrave", "NR14"), ("Brooke", "NR15"), ("Alpington", "NR14"), ("Rockland St Mary", "NR14"),
    ("Scole", "IP21"), ("Roydon", "IP22"), ("Garboldisham", "IP22"), ("East Harling", "NR16"),
    ("Brandon Parva", "NR9"), ("Yaxham", "NR19"), ("Gressenhall", "NR20"), ("North Elmham", "NR20"),
    ("Sculthorpe", "NR21"), ("Sedgeford", "PE36"), ("Walpole St Andrew", "PE14"), ("Tilney All Saints", "PE34"),
]

STREETS = [
    "Church Lane", "The Street", "Norwich Road", "Station Road", "High Street", "Mill Lane", "School Lane",
    "Market Place", "Cromer Road", "Holt Road", "Yarmouth Road", "Dereham Road", "London Road", "Back Lane",
    "Chapel Street", "The Green", "Manor Road", "Hall Lane", "Bridge Street", "Common Lane", "Long Lane",
    "Hill Road", "Meadow Way", "Orchard Close", "Beech Drive", "Oak Avenue", "Elm Close", "Willow Way",
    "Saxon Way", "Anglian Way", "Broadland Close", "Marsh Road", "Staithe Road", "Fen Lane", "Heath Road",
    "Windmill Road", "Rectory Road", "Priory Close", "Abbey Road", "Nelson Road", "Cotman Road", "Crome Road",
    "Gurney Road", "Colman Road", "Unthank Road", "Newmarket Road", "Ipswich Road", "Aylsham Road",
    "St Mary's Close", "St Andrew's Way", "King's Road", "Queen's Road", "Victoria Street", "Albert Terrace",
    "Jubilee Close", "Coronation Road", "Poppy Close", "Lavender Way", "Harvest Road", "Barley Way",
    "Wheatfield Drive", "Sandy Lane", "Pound Lane", "Swan Lane", "Ferry Road", "Quay Street",
]

HOUSE_NAMES = [
    "Rose Cottage", "The Old Rectory", "Mill House", "Orchard House", "Hillside", "The Laurels",
    "Ivy Cottage", "Church Farm", "The Barn", "Marsh View", "Holly Lodge", "Willow Cottage",
]

# School name patterns (phase -> list of format strings taking {town}).
PRIMARY_PATTERNS = [
    "{town} Primary School", "{town} Primary Academy", "{town} Church of England Primary School",
    "{town} Community Primary School", "{town} VC Primary School", "{town} Infant and Nursery School",
    "St Mary's CE Primary School, {town}", "{town} Junior School", "St Andrew's VA Primary School, {town}",
    "{town} Primary and Nursery School", "Our Lady of the Broads Catholic Primary, {town}",
    "All Saints CE Primary Academy, {town}",
]
SECONDARY_PATTERNS = [
    "{town} High School", "{town} High Academy", "{town} Academy", "{town} Ormiston Academy",
    "{town} Sixth Form and High School", "{town} Community College",
]
ALL_THROUGH_PATTERNS = ["{town} Academy 4-16", "{town} All-Through Academy", "The {town} School 3-16"]
SPECIAL_PATTERNS = [
    "{town} Woodland School", "Chapel Meadow School, {town}", "{town} Ridge Special School",
    "The Heron Academy, {town}", "{town} Lodge School",
]

# MIS names written as CTF SupplierID (modern exporters write comma-separated marks).
MODERN_SUPPLIERS = ["Arbor", "Bromcom", "SIMS", "ScholarPack", "Pupil Asset", "Integris"]
LEGACY_SUPPLIERS = ["SIMS 7", "Integris G2", "RM Integris"]

SUSPENSION_REASONS = [
    ("PD", 45), ("VA", 12), ("VP", 9), ("PP", 8), ("PA", 6), ("DA", 4), ("OW", 3), ("MT", 3),
    ("DM", 3), ("BU", 2), ("RA", 2), ("SM", 1), ("TH", 1), ("LG", 1),
]

LEAVING_REASONS_KNOWN = [
    "Moved out of area", "Transferred to another school", "Moved abroad", "Elective home education",
]
LEAVING_REASON_UNKNOWN = "Destination unknown"
