"""LA numbers that may appear in characters 2-4 of a UPN: the DfE's 3-digit ("old") LA codes.

A UPN's characters 2-4 are the LA number of the school that issued it, at the time it was issued
(DfE, "Unique pupil numbers (UPN)" guidance, https://www.gov.uk/government/publications/unique-pupil-numbers).
UPNs are lifelong, so the list keeps retired codes (Bedfordshire, Cheshire, Dorset/Poole/Bournemouth,
Northamptonshire, Cumbria) beside their successors, and it holds the Welsh LA numbers 660-681:
UPNs are issued in Wales on the same scheme and both DfE sources below accept them.

The list is the union of two DfE sources, checked against a third:

* The DfE's Multiplication Tables Check service, https://github.com/DFEAGILEDEVOPS/MTC, whose UPN
  check ("UPN invalid (characters 2-4 not a recognised LA code)") reads its ``laCodeLookup`` table:
  ``db/migrations/core-data/20210129171943.do.populate-la-code-table.sql`` (February 2021, the names
  used here), ``db/migrations/schema-objects/20220325133310.do.update-la-codes.sql`` (940, 941;
  March 2022) and ``db/migrations/core-data/20230209104239.do.add-new-la-codes.sql`` (942, 943;
  February 2023), as at the repository's commit 249e339 of 21 July 2026. Left out: its 000 ("Does
  not apply") and 999 ("Test", MTC's own test schools), which are not LA numbers.
* The DfE's Children in Need census validation rule 1530 ("UPN invalid (characters 2-4 not a
  recognised LA code)": "characters 2-4 of <UPN> must be a valid post April 1998 LA code or a
  recognised 'pseudo LA' code"), as coded for the 2023/24 rules in
  https://github.com/data-to-insight/csc-validator-be-cin,
  ``cin_validator/rules/cin2023_24/rule_1530.py`` (commit 1bf6f22 of 1 May 2026). It adds what MTC
  lacks: the pseudo LA codes 001-005 and 703 (the rule names none of them) and the codes retired in
  April 2009, 820 Bedfordshire and 875 Cheshire. Those entries are marked below.
* python-stdnum's ``stdnum/gb/upn.py`` (https://github.com/arthurdejong/python-stdnum, 2017), taken
  from the DfE's "New local authority codes: January 2011" (withdrawn; it points to Get Information
  about Schools, https://get-information-schools.service.gov.uk/, for the 3-digit code). Every code in
  it is in the MTC list; it lacks Wales and everything since 2011, so it added nothing.

195 codes. The union is deliberate: a record with an unrecognised LA code is not loaded, so a code
either DfE service accepts is accepted here. When a local government reorganisation creates an LA,
add its number from Get Information about Schools (the LA's "old LA code").
"""

from __future__ import annotations

# code -> LA name (MTC's names; retired codes say when they stopped being issued and their successors).
LA_CODES: dict[str, str] = {
    "001": "Pseudo LA code 001",  # CIN rule 1530 only
    "002": "Pseudo LA code 002",  # CIN rule 1530 only
    "003": "Pseudo LA code 003",  # CIN rule 1530 only
    "004": "Pseudo LA code 004",  # CIN rule 1530 only
    "005": "Pseudo LA code 005",  # CIN rule 1530 only
    "201": "City of London",
    "202": "Camden",
    "203": "Greenwich",
    "204": "Hackney",
    "205": "Hammersmith and Fulham",
    "206": "Islington",
    "207": "Kensington and Chelsea",
    "208": "Lambeth",
    "209": "Lewisham",
    "210": "Southwark",
    "211": "Tower Hamlets",
    "212": "Wandsworth",
    "213": "Westminster",
    "301": "Barking and Dagenham",
    "302": "Barnet",
    "303": "Bexley",
    "304": "Brent",
    "305": "Bromley",
    "306": "Croydon",
    "307": "Ealing",
    "308": "Enfield",
    "309": "Haringey",
    "310": "Harrow",
    "311": "Havering",
    "312": "Hillingdon",
    "313": "Hounslow",
    "314": "Kingston upon Thames",
    "315": "Merton",
    "316": "Newham",
    "317": "Redbridge",
    "318": "Richmond upon Thames",
    "319": "Sutton",
    "320": "Waltham Forest",
    "330": "Birmingham",
    "331": "Coventry",
    "332": "Dudley",
    "333": "Sandwell",
    "334": "Solihull",
    "335": "Walsall",
    "336": "Wolverhampton",
    "340": "Knowsley",
    "341": "Liverpool",
    "342": "St. Helens",
    "343": "Sefton",
    "344": "Wirral",
    "350": "Bolton",
    "351": "Bury",
    "352": "Manchester",
    "353": "Oldham",
    "354": "Rochdale",
    "355": "Salford",
    "356": "Stockport",
    "357": "Tameside",
    "358": "Trafford",
    "359": "Wigan",
    "370": "Barnsley",
    "371": "Doncaster",
    "372": "Rotherham",
    "373": "Sheffield",
    "380": "Bradford",
    "381": "Calderdale",
    "382": "Kirklees",
    "383": "Leeds",
    "384": "Wakefield",
    "390": "Gateshead",
    "391": "Newcastle upon Tyne",
    "392": "North Tyneside",
    "393": "South Tyneside",
    "394": "Sunderland",
    "420": "Isles of Scilly",
    "660": "Isle of Anglesey",
    "661": "Gwynedd",
    "662": "Conwy",
    "663": "Denbighshire",
    "664": "Flintshire",
    "665": "Wrexham",
    "666": "Powys",
    "667": "Ceredigion",
    "668": "Pembrokeshire",
    "669": "Carmarthenshire",
    "670": "Swansea",
    "671": "Neath Port Talbot",
    "672": "Bridgend",
    "673": "Vale of Glamorgan",
    "674": "Rhondda Cynon Taf",
    "675": "Merthyr Tydfil",
    "676": "Caerphilly",
    "677": "Blaenau Gwent",
    "678": "Torfaen",
    "679": "Monmouthshire",
    "680": "Newport",
    "681": "Cardiff",
    "701": "Scotland Offshore Establishments",
    "702": "BFPO Overseas Establishments",
    "703": "Offshore or overseas establishments (703)",  # CIN rule 1530 only
    "704": "Fieldwork Overseas Establishments",
    "705": "Isle of Man Offshore Establishments",
    "706": "Guernsey Offshore Establishments",
    "707": "Jersey Offshore Establishments",
    "708": "Gibraltar Overseas Establishments",
    "800": "Bath and North East Somerset",
    "801": "Bristol, City of",
    "802": "North Somerset",
    "803": "South Gloucestershire",
    "805": "Hartlepool",
    "806": "Middlesbrough",
    "807": "Redcar and Cleveland",
    "808": "Stockton-on-Tees",
    "810": "Kingston upon Hull, City of",
    "811": "East Riding of Yorkshire",
    "812": "North East Lincolnshire",
    "813": "North Lincolnshire",
    "815": "North Yorkshire",
    "816": "York",
    "820": "Bedfordshire (to March 2009; now 822, 823)",  # CIN rule 1530 only
    "821": "Luton",
    "822": "Bedford",
    "823": "Central Bedfordshire",
    "825": "Buckinghamshire",
    "826": "Milton Keynes",
    "830": "Derbyshire",
    "831": "Derby",
    "835": "Dorset (to March 2019; now 838)",
    "836": "Poole (to March 2019; now 839)",
    "837": "Bournemouth (to March 2019; now 839)",
    "838": "Dorset",
    "839": "Bournemouth, Christchurch and Poole",
    "840": "County Durham",
    "841": "Darlington",
    "845": "East Sussex",
    "846": "Brighton and Hove",
    "850": "Hampshire",
    "851": "Portsmouth",
    "852": "Southampton",
    "855": "Leicestershire",
    "856": "Leicester",
    "857": "Rutland",
    "860": "Staffordshire",
    "861": "Stoke-on-Trent",
    "865": "Wiltshire",
    "866": "Swindon",
    "867": "Bracknell Forest",
    "868": "Windsor and Maidenhead",
    "869": "West Berkshire",
    "870": "Reading",
    "871": "Slough",
    "872": "Wokingham",
    "873": "Cambridgeshire",
    "874": "Peterborough",
    "875": "Cheshire (to March 2009; now 895, 896)",  # CIN rule 1530 only
    "876": "Halton",
    "877": "Warrington",
    "878": "Devon",
    "879": "Plymouth",
    "880": "Torbay",
    "881": "Essex",
    "882": "Southend-on-Sea",
    "883": "Thurrock",
    "884": "Herefordshire, County of",
    "885": "Worcestershire",
    "886": "Kent",
    "887": "Medway",
    "888": "Lancashire",
    "889": "Blackburn with Darwen",
    "890": "Blackpool",
    "891": "Nottinghamshire",
    "892": "Nottingham",
    "893": "Shropshire",
    "894": "Telford and Wrekin",
    "895": "Cheshire East",
    "896": "Cheshire West and Chester",
    "908": "Cornwall",
    "909": "Cumbria (to March 2023; now 942, 943)",
    "916": "Gloucestershire",
    "919": "Hertfordshire",
    "921": "Isle of Wight",
    "925": "Lincolnshire",
    "926": "Norfolk",
    "928": "Northamptonshire (to March 2021; now 940, 941)",
    "929": "Northumberland",
    "931": "Oxfordshire",
    "933": "Somerset",
    "935": "Suffolk",
    "936": "Surrey",
    "937": "Warwickshire",
    "938": "West Sussex",
    "940": "North Northamptonshire",
    "941": "West Northamptonshire",
    "942": "Cumberland",
    "943": "Westmorland and Furness",
}


def is_la_code(code: str) -> bool:
    """True for a recognised 3-digit LA number (text, with its leading zeros)."""
    return code in LA_CODES


def la_name(code: str) -> str | None:
    """The LA's name for a recognised LA number, else None."""
    return LA_CODES.get(code)
