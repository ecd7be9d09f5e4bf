// make-pptx.cjs OUT.pptx: writes the presentation tests/data/briefing.pptx
// is, with PptxGenJS (npm's pptxgenjs 4.0.1), a writer of the format.
// The file is committed, since the test reads it and PptxGenJS is not a
// dependency of the build.  Run it where pptxgenjs is installed:
//   npm install pptxgenjs@4.0.1 && node tools/make-pptx.cjs OUT
// A policy briefing as offices publish one (政策解读): a title slide, a
// slide of bullet points under its title, a slide with a table, a slide
// whose text is split across runs and lines, with speaker notes.
const PptxGenJS = require("pptxgenjs");
const pres = new PptxGenJS();
pres.title = "赤峰市防沙治沙三年行动政策解读";
// Slides 1-3 have a layout with a title placeholder, as PowerPoint's own
// do; slide 4 has its heading in a plain text box.
pres.defineSlideMaster({
  title: "TITLED",
  objects: [{ placeholder: { options: { name: "title", type: "title", x: 0.5, y: 0.3, w: 9, h: 0.8 }, text: "" } }],
});
let s = pres.addSlide({ masterName: "TITLED" });
s.addText("赤峰市防沙治沙三年行动政策解读", { placeholder: "title", fontSize: 32 });
s.addText("赤峰市林业和草原局　2025年3月", { x: 0.5, y: 3.2, w: 9, h: 0.6, fontSize: 18 });
s = pres.addSlide({ masterName: "TITLED" });
s.addText("一、主要目标", { placeholder: "title", fontSize: 28, bold: true });
s.addText([
  { text: "到2026年底完成沙化土地治理任务462万亩", options: { bullet: true, breakLine: true } },
  { text: "新增风电光伏装机200万千瓦", options: { bullet: true, breakLine: true } },
  { text: "项目区植被覆盖度提高到百分之四十以上", options: { bullet: true } },
], { x: 0.5, y: 1.3, w: 9, h: 3, fontSize: 20 });
s = pres.addSlide({ masterName: "TITLED" });
s.addText("二、重点工程", { placeholder: "title", fontSize: 28, bold: true });
s.addTable([
  ["工程", "地点", "投资"],
  ["光伏治沙示范工程", "翁牛特旗", "5.2亿元"],
  ["退化草原修复", "巴林右旗", "1.25亿元"],
], { x: 0.5, y: 1.3, w: 9, fontSize: 16 });
s = pres.addSlide();
s.addText("三、保障措施", { x: 0.5, y: 0.3, w: 9, h: 0.8, fontSize: 28, bold: true });
s.addText([
  { text: "各旗县区人民政府是", options: {} },
  { text: "防沙治沙", options: { bold: true } },
  { text: "工作的责任主体。", options: { breakLine: true } },
  { text: "建立月调度、季通报、年考核工作机制。", options: {} },
], { x: 0.5, y: 1.3, w: 9, h: 3, fontSize: 20 });
s.addNotes("讲解时强调以工代赈。");
pres.writeFile({ fileName: process.argv[2] }).then(() => {});
